"""A registry's replication configuration as ECR checks it (PutReplicationConfiguration, and the seed files'
`replication:` key, which take the same shape): rules of destinations {region, registryId}, optional
repositoryFilters {filter, filterType: PREFIX_MATCH} and deleteReplication {enabled}.

Limits and patterns from botocore's service model (ReplicationRuleList, ReplicationDestinationList,
RepositoryFilterList, RepositoryFilterValue, Region, RegistryId); the same-registry message is moto's.
The sandbox stores the configuration and answers it; it does not copy pushes or deletions to the
destinations (⚠ replication is asynchronous in AWS: a test that needs the replica seeds it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from ecrgc.sandbox import exceptions

MAX_RULES = 25
MAX_DESTINATIONS = 100
MAX_FILTERS = 100
_REGION = re.compile(r"[0-9a-z-]{2,25}")
_REGISTRY_ID = re.compile(r"[0-9]{12}")
_FILTER = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*")


def checked(configuration: Any, account: str, region: str) -> dict[str, Any]:
    """The configuration, validated for the registry (`account`, `region`) that stores it; a copy."""
    if not isinstance(configuration, Mapping) or not isinstance(configuration.get("rules"), list):
        raise _member("replicationConfiguration.rules", "Member must not be null")
    rules = configuration["rules"]
    if len(rules) > MAX_RULES:
        raise exceptions.too_long("replicationConfiguration.rules", MAX_RULES)
    for index, rule in enumerate(rules):
        _rule(rule, f"replicationConfiguration.rules.{index + 1}.member", account, region)
    return {"rules": copy.deepcopy(rules)}


def _rule(rule: Any, where: str, account: str, region: str) -> None:
    if not isinstance(rule, Mapping) or not isinstance(rule.get("destinations"), list):
        raise _member(f"{where}.destinations", "Member must not be null")
    if len(rule["destinations"]) > MAX_DESTINATIONS:
        raise exceptions.too_long(f"{where}.destinations", MAX_DESTINATIONS)
    for destination in rule["destinations"]:
        given = destination if isinstance(destination, Mapping) else {}
        if not _REGION.fullmatch(str(given.get("region", ""))):
            raise exceptions.not_pattern(f"{where}.destinations.member.region", _REGION.pattern)
        if not _REGISTRY_ID.fullmatch(str(given.get("registryId", ""))):
            raise exceptions.not_pattern(f"{where}.destinations.member.registryId", _REGISTRY_ID.pattern)
        if (given["region"], given["registryId"]) == (region, account):
            raise exceptions.invalid(
                "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: "
                "'Replication destination cannot be the same as the source registry'"
            )
    filters = rule.get("repositoryFilters")
    if filters is not None:
        _filters(filters, f"{where}.repositoryFilters")
    deletes = rule.get("deleteReplication")
    enabled = deletes.get("enabled") if isinstance(deletes, Mapping) else None
    if deletes is not None and not isinstance(enabled, bool):
        raise _member(f"{where}.deleteReplication.enabled", "Member must not be null")


def _filters(filters: Any, where: str) -> None:
    if not isinstance(filters, list) or not filters:
        raise _member(where, "Member must have length greater than or equal to 1")
    if len(filters) > MAX_FILTERS:
        raise exceptions.too_long(where, MAX_FILTERS)
    for entry in filters:
        given = entry if isinstance(entry, Mapping) else {}
        text = str(given.get("filter", ""))
        if not 2 <= len(text) <= 256 or not _FILTER.fullmatch(text):
            raise exceptions.not_pattern(f"{where}.member.filter", _FILTER.pattern)
        if given.get("filterType") != "PREFIX_MATCH":
            raise _member(f"{where}.member.filterType", "Member must satisfy enum value set: [PREFIX_MATCH]")


def _member(member: str, constraint: str) -> exceptions.ApiError:
    return exceptions.invalid(f"Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'")
