"""The replication reader (`Registry.replication`, ECR DescribeRegistry) against moto and the sandbox: the
same configuration put through boto3 reads back as the same rules from both; what cannot be known is None
with a warning naming the registry."""

from __future__ import annotations

import logging
from typing import Any

import boto3
import pytest

from ecrgc.aws import Registry
from ecrgc.model import ReplicaDestination, ReplicationRule
from ecrgc.sandbox import Sandbox

OWN, OTHER = "123456789012", "210987654321"
EAST, TOKYO = "us-east-1", "ap-northeast-1"
RULE: dict[str, Any] = {
    "destinations": [{"region": TOKYO, "registryId": OTHER}, {"region": "eu-west-1", "registryId": OWN}],
    "repositoryFilters": [
        {"filter": "svc/", "filterType": "PREFIX_MATCH"},
        {"filter": "jobs", "filterType": "PREFIX_MATCH"},
    ],
    "deleteReplication": {"enabled": True},
}
READ = ReplicationRule(
    destinations=(
        ReplicaDestination(account=OWN, region="eu-west-1"),
        ReplicaDestination(account=OTHER, region=TOKYO),
    ),
    prefixes=("jobs", "svc/"),
    delete_replication=True,
)


def _put(*rules: Any) -> None:
    boto3.client("ecr", region_name=EAST).put_replication_configuration(
        replicationConfiguration={"rules": list(rules)}
    )


@pytest.mark.moto
def test_moto_replication_reads_as_rules(moto: str) -> None:
    assert Registry(EAST).replication() == ()
    _put(RULE)  # moto accepts one rule only ("This feature is disabled" beyond)
    assert Registry(EAST).replication() == (READ,)
    assert Registry(TOKYO).replication() == ()


def test_sandbox_replication_reads_as_rules(sandbox: Sandbox) -> None:
    assert Registry(EAST).replication() == ()
    _put(RULE, {"destinations": [{"region": TOKYO, "registryId": OWN}]})
    every = ReplicationRule(destinations=(ReplicaDestination(account=OWN, region=TOKYO),))
    assert Registry(EAST).replication() == (READ, every)
    assert every.covers("anything")
    assert READ.covers("svc/api")
    assert not READ.covers("web/svc")


def test_denied_or_another_registry_is_unknown_with_a_warning(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.registry_for(OTHER, EAST).shared_with.add(OWN)
    with caplog.at_level(logging.WARNING, logger="ecrgc.aws.replication"):
        assert Registry(EAST, registry_id=OTHER).replication() is None
        sandbox.knobs.denied.add("DescribeRegistry")
        assert Registry(EAST).replication() is None
    assert caplog.messages == [
        f"aws {OTHER}/{EAST}: ecr DescribeRegistry describes the caller's own registry ({OWN}), not this"
        " one: its replication is unknown",
        f"aws {OWN}/{EAST}: cannot read the registry's replication (ecr DescribeRegistry:"
        " AccessDeniedException)",
    ]
