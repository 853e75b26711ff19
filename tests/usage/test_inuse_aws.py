"""`ecrgc inuse export --aws`: AWS-native workloads as an image list, by the installed CLI against moto."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from ecrgc.imagelists import read_image_list

pytestmark = [pytest.mark.e2e, pytest.mark.moto]
ECRGC = Path(sys.executable).parent / "ecrgc"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def test_the_export_lists_what_ecs_and_batch_use_and_plans_read_it_back(moto: str, tmp_path: Path) -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="api", containerDefinitions=[{"name": "app", "image": f"{ECR}/api:v7", "memory": 128}]
    )
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api:1", desiredCount=1)
    policy = tmp_path / "policies" / "aws.yaml"
    policy.parent.mkdir()
    policy.write_text(
        textwrap.dedent(
            """\
            apiVersion: ecrgc/v1
            kind: Policy
            metadata: {name: aws}
            spec:
              region: us-east-1
              repositories: {include: ['.']}
              rules: {keepLatest: 1}
              protect: {aws: {ecs: {taskDefinitionRevisions: 1}, batch: true}}
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "IMG_LIST" / "aws.txt"
    done = subprocess.run(
        [str(ECRGC), "inuse", "export", "--aws", str(policy.parent), "--out", str(out)],
        capture_output=True,
        text=True,
        env=os.environ | {"KUBECONFIG": str(tmp_path / "none")},  # --aws alone reads no cluster
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ecs 123456789012/us-east-1: 1 references, sha256 ")
    assert lines[1].startswith("# batch 123456789012/us-east-1: 0 references, sha256 ")
    assert lines[2:] == [
        "# images in use, written by ecrgc: 1 references",
        "# used by ecs 123456789012/us-east-1 · newest 1 of api · taskdef api:1,"
        " ecs 123456789012/us-east-1 · service prod/api · taskdef api:1",
        f"{ECR}/api:v7",
    ]
    assert [str(u.ref) for u in read_image_list(out).uses] == [f"{ECR}/api:v7"]
