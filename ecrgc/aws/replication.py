"""The registry's replication configuration (ECR DescribeRegistry) as model records.

DescribeRegistry takes no registryId: it describes the caller's own registry in the client's region. A
registry reached through `registryId` (another account's, shared with the caller) is therefore not the one
described, and its replication is unknown. Unknown (denied, failed, or another registry's) is `None`,
logged as a warning naming the registry: what that means for the plan is decided by the caller
(`ecrgc.replication`), not here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ecrgc.aws.client import error_code
from ecrgc.model import ReplicaDestination, ReplicationRule

if TYPE_CHECKING:
    from types_boto3_ecr import ECRClient

log = logging.getLogger(__name__)


def read_replication(client: ECRClient, account: str, region: str) -> tuple[ReplicationRule, ...] | None:
    """The replication rules of registry `account` in `region`, or None when they cannot be known."""
    where = f"aws {account}/{region}"
    try:
        reply = client.describe_registry()
    except ClientError as exc:
        log.warning(
            "%s: cannot read the registry's replication (ecr DescribeRegistry: %s)", where, error_code(exc)
        )
        return None
    except BotoCoreError as exc:
        log.warning("%s: cannot read the registry's replication (ecr DescribeRegistry: %s)", where, exc)
        return None
    described = reply.get("registryId")
    if described != account:
        log.warning(
            "%s: ecr DescribeRegistry describes the caller's own registry (%s), not this one: its replication"
            " is unknown",
            where,
            described,
        )
        return None
    rules = (reply.get("replicationConfiguration") or {}).get("rules") or []
    return tuple(rule_from_ecr(rule) for rule in rules)


def rule_from_ecr(rule: Mapping[str, Any]) -> ReplicationRule:
    """One ECR ReplicationRule. A filter of a type other than PREFIX_MATCH (none exists today) cannot be
    read, so the rule is taken to cover every repository: the reading that can only make ecrgc delete less."""
    filters = rule.get("repositoryFilters") or []
    readable = all(f.get("filterType") == "PREFIX_MATCH" for f in filters)
    return ReplicationRule(
        destinations=tuple(
            sorted(
                ReplicaDestination(account=d["registryId"], region=d["region"]) for d in rule["destinations"]
            )
        ),
        prefixes=tuple(sorted(f["filter"] for f in filters)) if readable else (),
        delete_replication=bool((rule.get("deleteReplication") or {}).get("enabled")),
    )
