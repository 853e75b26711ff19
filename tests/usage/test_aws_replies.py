"""The AWS readers' extraction over replies shaped as AWS documents them (the API references' examples),
for what moto does not produce: several deployments, tasks' digests, weighted aliases, multi-node jobs."""

from __future__ import annotations

import random

import pytest

from ecrgc.aws.batch import job_definition_uses
from ecrgc.aws.ecs import check_failures, deployment_users, family_revision, newest_revisions, task_uses
from ecrgc.aws.lambdas import version_uses
from ecrgc.errors import SourceUnavailable

ECR = "012345678910.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32
TASKDEF = "arn:aws:ecs:us-east-1:012345678910:task-definition"


def test_a_service_protects_its_primary_and_active_deployments_not_its_inactive_ones() -> None:
    # DescribeServices during a rolling update: the new deployment PRIMARY, the old one still ACTIVE
    service = {
        "serviceName": "api",
        "taskDefinition": f"{TASKDEF}/api:4",
        "deployments": [
            {
                "id": "ecs-svc/1",
                "status": "PRIMARY",
                "taskDefinition": f"{TASKDEF}/api:4",
                "rolloutState": "IN_PROGRESS",
            },
            {
                "id": "ecs-svc/2",
                "status": "ACTIVE",
                "taskDefinition": f"{TASKDEF}/api:3",
                "rolloutState": "COMPLETED",
            },
            {"id": "ecs-svc/3", "status": "INACTIVE", "taskDefinition": f"{TASKDEF}/api:2"},
        ],
    }
    blue_green = {
        "serviceName": "web",
        "taskSets": [
            {"id": "ecs-svc/4", "status": "PRIMARY", "taskDefinition": f"{TASKDEF}/web:8"},
            {"id": "ecs-svc/5", "status": "ACTIVE", "taskDefinition": f"{TASKDEF}/web:7"},
            {"id": "ecs-svc/6", "status": "DRAINING", "taskDefinition": f"{TASKDEF}/web:6"},
        ],
    }
    assert deployment_users("prod", [service, blue_green]) == {
        f"{TASKDEF}/api:4": {"service prod/api"},
        f"{TASKDEF}/api:3": {"service prod/api"},
        f"{TASKDEF}/web:8": {"service prod/web"},
        f"{TASKDEF}/web:7": {"service prod/web"},
    }


def test_a_task_protects_the_digest_each_container_runs() -> None:
    # DescribeTasks: `image` as configured (a tag), `imageDigest` what the agent pulled
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:012345678910:task/prod/0f3e5d1c2b",
        "taskDefinitionArn": f"{TASKDEF}/api:41",
        "lastStatus": "STOPPED",
        "containers": [
            {"name": "app", "image": f"{ECR}/api:latest", "imageDigest": DIGEST},
            {"name": "sidecar", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"},
        ],
    }
    users, uses = task_uses("ecs 012345678910/us-east-1", "prod", [task])
    assert users == {f"{TASKDEF}/api:41": {"task prod/0f3e5d1c2b"}}
    assert [(str(u.ref), u.source) for u in uses] == [
        (f"{ECR}/api:latest@{DIGEST}", "ecs 012345678910/us-east-1 · task prod/0f3e5d1c2b · container app")
    ]
    assert uses[0].ref.digest == DIGEST


def test_revisions_are_ranked_by_number_whatever_order_they_come_in() -> None:
    arns = [f"{TASKDEF}/api:{n}" for n in range(1, 12)] + [f"{TASKDEF}/api-worker:{n}" for n in (2, 9, 10)]
    random.Random(7).shuffle(arns)
    assert newest_revisions(arns, 2) == {
        f"{TASKDEF}/api:11": {"newest 2 of api"},
        f"{TASKDEF}/api:10": {"newest 2 of api"},
        f"{TASKDEF}/api-worker:10": {"newest 2 of api-worker"},
        f"{TASKDEF}/api-worker:9": {"newest 2 of api-worker"},
    }
    assert newest_revisions(arns, 0) == {}
    assert family_revision(f"{TASKDEF}/my:family:3") == ("my:family", 3)


def test_a_lambda_version_protects_its_configured_tag_and_resolved_digest_once_per_alias() -> None:
    # GetFunction's Code for an image function
    code = {
        "RepositoryType": "ECR",
        "ImageUri": f"{ECR}/fn:v3",
        "ResolvedImageUri": f"{ECR}/fn@{DIGEST}",
    }
    uses = version_uses("lambda 012345678910/us-east-1", "api", "7", ("blue", "live"), code)
    assert sorted((str(u.ref), u.source) for u in uses) == sorted(
        (ref, f"lambda 012345678910/us-east-1 · function api · {who}version 7")
        for ref in (f"{ECR}/fn:v3", f"{ECR}/fn@{DIGEST}")
        for who in ("", "alias blue · ", "alias live · ")
    )


def test_an_active_multi_node_job_definition_protects_every_node_image_and_an_inactive_one_nothing() -> None:
    multinode = {
        "jobDefinitionName": "train",
        "revision": 12,
        "status": "ACTIVE",
        "type": "multinode",
        "nodeProperties": {
            "mainNode": 0,
            "numNodes": 3,
            "nodeRangeProperties": [
                {"targetNodes": "0", "container": {"image": f"{ECR}/train-main:v2"}},
                {"targetNodes": "1:", "container": {"image": f"{ECR}/train-worker:v2"}},
            ],
        },
    }
    uses = job_definition_uses("batch 012345678910/us-east-1", multinode)
    assert [(str(u.ref), u.source) for u in uses] == [
        (f"{ECR}/train-main:v2", "batch 012345678910/us-east-1 · jobdef train:12"),
        (f"{ECR}/train-worker:v2", "batch 012345678910/us-east-1 · jobdef train:12"),
    ]
    inactive = {**multinode, "status": "INACTIVE"}
    assert job_definition_uses("batch 012345678910/us-east-1", inactive) == []


def test_a_described_service_or_task_that_failed_otherwise_than_missing_is_unread() -> None:
    what = "ecs 012345678910/us-east-1: DescribeTasks (cluster prod)"
    check_failures(what, [{"arn": "arn:aws:ecs:us-east-1:012345678910:task/prod/1", "reason": "MISSING"}])
    with pytest.raises(SourceUnavailable) as caught:
        check_failures(
            what, [{"arn": "arn:aws:ecs:us-east-1:012345678910:task/prod/2", "reason": "ACCESS_DENIED"}]
        )
    assert str(caught.value) == (
        f"{what} failed for 1 of them (arn:aws:ecs:us-east-1:012345678910:task/prod/2: ACCESS_DENIED):"
        " nothing may be deleted while they cannot be read"
    )
