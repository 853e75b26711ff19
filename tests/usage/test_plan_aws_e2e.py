"""The installed `ecrgc plan` with protect.aws against moto: what ECS runs survives, and the inputs summary
lists every account and region read with its counts, an empty one included."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from ecrgc.planfile import load_plan_file
from tests.aws.test_moto import push

pytestmark = [pytest.mark.e2e, pytest.mark.moto]
ECRGC = Path(sys.executable).parent / "ecrgc"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::210987654321:role/ecrgc-read"


def test_plan_keeps_what_ecs_runs_and_lists_each_account_and_region(moto: str, tmp_path: Path) -> None:
    ecr = boto3.client("ecr", region_name="us-east-1")
    ecr.create_repository(repositoryName="web/api")
    running, unused = push(ecr, "web/api", "a", tag="v1"), push(ecr, "web/api", "b", tag="v2")
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="api", containerDefinitions=[{"name": "app", "image": f"{ECR}/web/api:v1", "memory": 128}]
    )
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="api:1", desiredCount=1)
    ecs.deregister_task_definition(taskDefinition="api:1")  # INACTIVE, but the service still runs it
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "web.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: ecrgc/v1
            kind: Policy
            metadata: {{name: web}}
            spec:
              region: us-east-1
              repositories: {{include: ['^web/']}}
              rules: {{keepLatest: 0}}
              protect:
                aws:
                  ecs: {{taskDefinitionRevisions: 3}}
                  accounts: [{{roleArn: '{ROLE}', regions: [ap-northeast-1]}}]
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [str(ECRGC), "plan", "--out", "plan.json", "policies"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=os.environ | {"LOGDIR": str(tmp_path / "logs")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    plan = load_plan_file(tmp_path / "plan.json")
    assert [a.digest for a in plan.actions] == [unused]
    assert [(p.digest, p.sources) for p in plan.protected] == [
        (running, ("ecs 123456789012/us-east-1 · service prod/api · taskdef api:1",))
    ]
    assert "  ecs 123456789012/us-east-1: 1 reference (1 this registry" in done.stdout
    assert "protects 1 image" in done.stdout
    assert "  ecs 210987654321/ap-northeast-1: 0 references (0 this registry" in done.stdout
