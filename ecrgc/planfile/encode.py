"""Plan -> the canonical JSON document (see the package docstring for the format and the hash)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ecrgc.model import Plan, PlannedAction, RepositorySummary

FORMAT_VERSION = "1.0"
"""The plan format this ecrgc writes; it reads any 1.x."""

USD_PER_GB_MONTH = Decimal("0.10")
BYTES_PER_GB = 10**9


def canonical(plan: Plan) -> Plan:
    """`plan` with every list in canonical order and policy documents as plain JSON values."""
    return replace(
        plan,
        policies=tuple(
            replace(p, document=json.loads(json.dumps(_plain(p.document))))
            for p in sorted(plan.policies, key=lambda p: p.name)
        ),
        inputs=tuple(sorted(plan.inputs)),
        actions=order_actions(_with_sorted_tags(a) for a in plan.actions),
        repository_deletions=tuple(sorted(plan.repository_deletions)),
        protected=tuple(
            replace(p, tags=tuple(sorted(p.tags)), sources=tuple(sorted(p.sources)))
            for p in sorted(plan.protected, key=lambda p: (p.repository, p.digest))
        ),
        summary=tuple(sorted(plan.summary, key=lambda s: s.repository)),
    )


def _with_sorted_tags(action: PlannedAction) -> PlannedAction:
    # Copy only when needed: a canonical plan of 50,000 actions would otherwise be rebuilt on every hash.
    tags = tuple(sorted(action.tags))
    return action if tags == action.tags else replace(action, tags=tags)


def order_actions(actions: Iterable[PlannedAction]) -> tuple[PlannedAction, ...]:
    """Actions by repository, then depth (a parent before what goes with it), then digest."""
    listed = list(actions)
    by_repository: dict[str, list[PlannedAction]] = {}
    for action in listed:
        by_repository.setdefault(action.repository, []).append(action)
    depth = {
        (name, digest): found
        for name, mine in by_repository.items()
        for digest, found in depths(mine).items()
    }
    if len(depth) != len(listed):
        raise ValueError("a plan lists the same image twice")
    return tuple(sorted(listed, key=lambda a: (a.repository, depth[(a.repository, a.digest)], a.digest)))


def depths(actions: Iterable[PlannedAction]) -> dict[str, int]:
    """digest -> length of its parent chain within `actions` (0: no planned parent), for one repository.

    The plan's order and apply's levels (a parent in an earlier call than what goes with it) both use it.
    """
    parents = {a.digest: a.parent or "" for a in actions}
    found: dict[str, int] = {}
    for digest in parents:
        chain: list[str] = []
        at = digest
        # Iterative and cycle-safe (`chain`): digests cannot form cycles, but a bad plan must not hang us.
        while at in parents and at not in found and at not in chain:
            chain.append(at)
            at = parents[at]
        base = found.get(at, -1)
        for offset, item in enumerate(reversed(chain), start=1):
            found[item] = base + offset
    return found


def monthly_saving_usd(size_bytes: int) -> Decimal:
    """Estimated saving per month of freeing `size_bytes` of standard storage, in dollars, to the cent."""
    return (Decimal(size_bytes) / BYTES_PER_GB * USD_PER_GB_MONTH).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def format_timestamp(moment: datetime) -> str:
    """`moment` as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`; naive datetimes are a bug, not UTC."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: ecrgc timestamps are timezone-aware")
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat().removesuffix("+00:00") + "Z"


def document(plan: Plan) -> dict[str, Any]:
    """The JSON document of a canonical `plan`, without its content hash."""
    return {
        "format_version": plan.format_version,
        "ecrgc_version": plan.ecrgc_version,
        "created_at": format_timestamp(plan.created_at),
        "expires_at": format_timestamp(plan.expires_at),
        "target": {"account_id": plan.account, "region": plan.region},
        "policies": [{"name": p.name, "sha256": p.sha256, "document": p.document} for p in plan.policies],
        "inputs": [
            {"kind": str(i.kind), "name": i.name, "sha256": i.sha256, "references": i.references}
            for i in plan.inputs
        ],
        "summary": {
            **summary_totals(plan.summary),
            "repositories": [_repository_summary(s) for s in plan.summary],
        },
        "actions": [_action(a) for a in plan.actions],
        "repository_deletions": list(plan.repository_deletions),
        "protected": [
            {
                "repository": p.repository,
                "imageDigest": p.digest,
                "imageTags": list(p.tags),
                "sources": list(p.sources),
            }
            for p in plan.protected
        ],
    }


def summary_totals(repositories: Sequence[RepositorySummary]) -> dict[str, Any]:
    """The totals over all repositories (derived, so `loads` can check them)."""
    kept: dict[str, int] = {}
    for summary in repositories:
        for reason, count in summary.kept.items():
            kept[str(reason)] = kept.get(str(reason), 0) + count
    reclaimed = sum(s.bytes_reclaimed for s in repositories)
    return {
        "images_scanned": sum(s.scanned for s in repositories),
        "images_kept": sum(kept.values()),
        "kept_by_reason": kept,
        "images_deleted": sum(s.deleted for s in repositories),
        "images_archived": sum(s.archived for s in repositories),
        "bytes_reclaimed": reclaimed,
        "estimated_monthly_saving_usd": str(monthly_saving_usd(reclaimed)),
    }


def _repository_summary(summary: RepositorySummary) -> dict[str, Any]:
    return {
        "repository": summary.repository,
        "policy": summary.policy,
        "scanned": summary.scanned,
        "kept": {str(reason): count for reason, count in summary.kept.items()},
        "deleted": summary.deleted,
        "archived": summary.archived,
        "bytes_reclaimed": summary.bytes_reclaimed,
        "delete_repository": summary.delete_repository,
    }


def _action(action: PlannedAction) -> dict[str, Any]:
    return {
        "repository": action.repository,
        "imageDigest": action.digest,
        "imageTags": list(action.tags),
        "pushedAt": format_timestamp(action.pushed_at),
        "lastPulledAt": format_timestamp(action.last_pulled_at) if action.last_pulled_at else None,
        "sizeBytes": action.size_bytes,
        "mediaType": action.media_type,
        "action": str(action.action),
        "reason": str(action.reason),
        "parent": action.parent,
        "policy": action.policy,
    }


def _plain(value: Any) -> Any:
    """Mappings and tuples as dicts and lists, so a policy document serialises and compares as JSON."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def hash_document(document: Mapping[str, Any]) -> str:
    """sha256 of the compact, key-sorted UTF-8 JSON of `document`."""
    canonical_bytes = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical_bytes.encode("utf-8")).hexdigest()
