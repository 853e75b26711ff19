"""Image lists in S3 (moto): read for protect.imageLists like files, failing closed like a missing file,
and written by `ecrgc inuse export --out s3://…` (the installed CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from ecrgc.errors import SourceUnavailable
from ecrgc.model import Policy
from ecrgc.policy import load_policy_text
from ecrgc.usage import collect

pytestmark = pytest.mark.moto
ECRGC = Path(sys.executable).parent / "ecrgc"
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"


def policy(lists: str) -> Policy:
    text = f"""\
        apiVersion: ecrgc/v1
        kind: Policy
        metadata: {{name: web}}
        spec:
          region: us-east-1
          repositories: {{include: ['^web/']}}
          rules: {{keepLatest: 1}}
          protect: {{imageLists: {lists}}}
        """
    return load_policy_text(textwrap.dedent(text), "web.yaml")


@pytest.fixture
def bucket(moto: str) -> str:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="ecrgc-lists")
    return "ecrgc-lists"


def put(bucket: str, key: str, text: str) -> None:
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=bucket, Key=key, Body=text.encode())


def test_an_s3_list_is_read_like_a_file(bucket: str, tmp_path: Path) -> None:
    # as the seed's list_img.sh writes it: repository:tag without the registry host
    put(bucket, "prd/IMG_LIST.txt", "# prd\nweb/api:v1\n\nweb/worker@sha256:" + "1" * 64 + "\n")
    usage = collect([policy("['s3://ecrgc-lists/prd/IMG_LIST.txt']")])
    assert [(u.ref.repository, u.ref.tag, u.source) for u in usage.uses] == [
        ("web/api", "v1", "s3://ecrgc-lists/prd/IMG_LIST.txt:2"),
        ("web/worker", None, "s3://ecrgc-lists/prd/IMG_LIST.txt:4"),
    ]
    assert [(i.name, i.references) for i in usage.inputs] == [("s3://ecrgc-lists/prd/IMG_LIST.txt", 2)]


def test_a_missing_or_empty_s3_list_stops_the_plan(bucket: str, tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable) as caught:
        collect([policy("['s3://ecrgc-lists/gone.txt']")])
    assert str(caught.value) == (
        "image list s3://ecrgc-lists/gone.txt cannot be read (s3 GetObject: NoSuchKey): restore it, grant"
        " s3:GetObject on it, or remove it from protect.imageLists"
    )
    put(bucket, "empty.txt", "# nothing yet\n")
    with pytest.raises(
        SourceUnavailable,
        match=r"^web\.yaml::\$\.spec\.protect\.imageLists\[0\]: s3://ecrgc-lists/empty\.txt holds no",
    ):
        collect([policy("['s3://ecrgc-lists/empty.txt']")])
    allowed = collect([policy("[{path: 's3://ecrgc-lists/empty.txt', allowEmpty: true}]")])
    assert allowed.uses == ()


def test_the_export_writes_to_s3_and_the_plan_reads_it_back(bucket: str, tmp_path: Path) -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="api", containerDefinitions=[{"name": "app", "image": f"{ECR}/web/api:v7", "memory": 128}]
    )
    aws = tmp_path / "aws.yaml"
    aws.write_text(
        textwrap.dedent(
            """\
            apiVersion: ecrgc/v1
            kind: Policy
            metadata: {name: aws}
            spec:
              region: us-east-1
              repositories: {include: ['.']}
              rules: {keepLatest: 1}
              protect: {aws: {ecs: {taskDefinitionRevisions: 1}}}
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [str(ECRGC), "inuse", "export", "--aws", str(aws), "--out", "s3://ecrgc-lists/aws/IMG_LIST.txt"],
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    usage = collect([policy("['s3://ecrgc-lists/aws/IMG_LIST.txt']")])
    assert [str(u.ref) for u in usage.uses] == [f"{ECR}/web/api:v7"]
