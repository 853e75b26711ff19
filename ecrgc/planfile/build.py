"""A parsed, validated document -> Plan (either layout), and the checks of what it claims that need the
Plan: each policy's hash, the summary's counts (see the package docstring; decode.py parses and checks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.model import (
    Action,
    InputFingerprint,
    InputKind,
    Plan,
    PlannedAction,
    PolicyRecord,
    ProtectedImage,
    Reason,
    ReplicaDestination,
    ReplicationRule,
    RepositorySummary,
)
from ecrgc.planfile import evidence
from ecrgc.planfile.columns import RepositoryColumns, Rows, codes
from ecrgc.planfile.encode import summary_totals
from ecrgc.policy import document_sha256


def check_policy_hashes(plan: Plan, source: str) -> None:
    """Each embedded policy's `sha256` is the hash of its `document`: the hash a reviewer sees is true."""
    for n, record in enumerate(plan.policies):
        if (actual := document_sha256(record.document)) != record.sha256:
            raise PlanRefused(
                f"{source}::$.policies[{n}].sha256: {record.sha256[:12]} is not the hash of the policy"
                f" document beside it ({actual[:12]}): the plan was edited by hand; re-run ecrgc plan"
            )


def check_summary(
    plan: Plan, counted: Mapping[tuple[str, Action], int], summary: Mapping[str, Any], source: str
) -> None:
    """The summary agrees with the actions (`counted`: per repository and action, see `plan_from`) and with
    itself (totals): views count from it."""
    listed = {s.repository for s in plan.summary}
    if missing := sorted({repository for repository, _ in counted} - listed):
        raise ConfigError(
            f"{source}: $.summary.repositories has no entry for {missing[0]}; re-run ecrgc plan"
        )
    for entry in plan.summary:
        claimed = entry.deleted, entry.archived
        actual = (
            counted.get((entry.repository, Action.DELETE), 0),
            counted.get((entry.repository, Action.ARCHIVE), 0),
        )
        if claimed != actual:
            raise ConfigError(
                f"{source}: $.summary.repositories counts {claimed[0]} deleted and {claimed[1]} archived in "
                f"{entry.repository} but its actions are {actual[0]} and {actual[1]}; re-run ecrgc plan"
            )
    totals = summary_totals(plan.summary)
    if totals != {key: summary[key] for key in totals}:
        raise ConfigError(
            f"{source}: $.summary totals disagree with $.summary.repositories; re-run ecrgc plan"
        )


def plan_from(document: Mapping[str, Any], source: str) -> tuple[Plan, Counter[tuple[str, Action]]]:
    """The Plan of a validated document (either layout), and its actions counted by repository and action."""
    summary = document["summary"]
    counted: Counter[tuple[str, Action]] = Counter()
    if "columns" in document:
        repositories = [
            RepositoryColumns(c, f"{source}::$.columns[{n}]") for n, c in enumerate(document["columns"])
        ]
        actions: Sequence[PlannedAction] = Rows(repositories, kept=False)
        kept: Sequence[PlannedAction] = Rows(repositories, kept=True)
        protected = tuple(image for r in repositories for image in r.protected())
        action_of = codes()[0]
        for r in repositories:
            for code, n in Counter(r.action_codes).items():
                if action_of[code] is not Action.KEEP:
                    counted[r.name, action_of[code]] = n
    else:
        actions = tuple(planned_action(a) for a in document["actions"])
        kept = tuple(planned_action(k, f"{source}::$.kept[{n}]") for n, k in enumerate(document["kept"]))
        protected = tuple(
            _protected(k, f"{source}::$.kept[{n}]")
            for n, k in enumerate(document["kept"])
            if k["sources"] or k["reason"] == Reason.IN_USE
        )
        counted.update((a.repository, a.action) for a in actions)
    plan = Plan(
        format_version=document["format_version"],
        ecrgc_version=document["ecrgc_version"],
        created_at=_timestamp(document["created_at"]),
        expires_at=_timestamp(document["expires_at"]),
        account=document["target"]["account_id"],
        region=document["target"]["region"],
        policies=tuple(
            PolicyRecord(name=p["name"], sha256=p["sha256"], document=p["document"])
            for p in document["policies"]
        ),
        inputs=tuple(
            InputFingerprint(
                kind=InputKind(i["kind"]),
                name=i["name"],
                sha256=i["sha256"],
                references=i["references"],
                this_registry=i.get("this_registry", 0),
                other_accounts=i.get("other_accounts_or_regions", 0),
                other_registries=i.get("other_registries", 0),
                protected=i.get("images_protected", 0),
            )
            for i in document["inputs"]
        ),
        actions=actions,
        kept=kept,
        repository_deletions=tuple(document["repository_deletions"]),
        protected=protected,
        summary=tuple(_repository(s) for s in summary["repositories"]),
        replication=_replication(document.get("replication")),
    )
    return plan, counted


def _replication(rules: Sequence[Mapping[str, Any]] | None) -> tuple[ReplicationRule, ...] | None:
    if rules is None:
        return None
    return tuple(
        ReplicationRule(
            destinations=tuple(
                ReplicaDestination(account=d["account_id"], region=d["region"], target=d["target"])
                for d in rule["destinations"]
            ),
            prefixes=tuple(rule["prefixes"]),
            delete_replication=rule["delete_replication"],
        )
        for rule in rules
    )


def _protected(record: Mapping[str, Any], where: str) -> ProtectedImage:
    if record["reason"] != Reason.IN_USE:
        raise ConfigError(
            f"{where}.sources: sources for an image kept {record['reason']}, not in_use: the plan was edited"
            " by hand; re-run ecrgc plan"
        )
    return ProtectedImage(
        repository=record["repository"],
        digest=record["imageDigest"],
        tags=tuple(record["imageTags"]),
        sources=tuple(record["sources"]),
    )


def planned_action(entry: Mapping[str, Any], where: str = "") -> PlannedAction:
    """An action's record, or a kept image's (no `action` key: it is kept; `where` names it)."""
    return PlannedAction(
        repository=entry["repository"],
        digest=entry["imageDigest"],
        tags=tuple(entry["imageTags"]),
        pushed_at=_timestamp(entry["pushedAt"]),
        last_pulled_at=_timestamp(entry["lastPulledAt"]) if entry["lastPulledAt"] else None,
        size_bytes=entry["sizeBytes"],
        media_type=entry["mediaType"],
        action=Action(entry.get("action", Action.KEEP)),
        reason=Reason(entry["reason"]),
        parent=entry["parent"],
        policy=entry["policy"],
        evidence=evidence.decode(entry["evidence"], entry, f"{where}.evidence")
        if "evidence" in entry
        else None,
    )


def _repository(entry: Mapping[str, Any]) -> RepositorySummary:
    return RepositorySummary(
        repository=entry["repository"],
        policy=entry["policy"],
        scanned=entry["scanned"],
        kept={Reason(reason): count for reason, count in entry["kept"].items()},
        deleted=entry["deleted"],
        archived=entry["archived"],
        bytes_reclaimed=entry["bytes_reclaimed"],
        delete_repository=entry["delete_repository"],
    )


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
