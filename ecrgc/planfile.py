"""Plan <-> canonical JSON: the only module that knows the plan file format.

The file is what a reviewer reads in a pull request and what `ecrgc apply` executes, so it is canonical:
keys sorted, 2-space indent, a final newline, UTC timestamps written `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, and
every list in a stable order (actions by repository, then depth — an index or subject before what goes
with it —, then digest; everything else by name). `loads(dumps(p)) == canonical(p)` and
`dumps(loads(s)) == s`.

Naming: top-level and summary keys are snake_case, image records (`actions`, `protected`) use the
ECR-style camelCase field names of the issue (imageDigest, imageTags, pushedAt, lastPulledAt …).

Versioning (Terraform's contract): `format_version` is major.minor. A minor version only adds keys, which
readers ignore; a new major version is refused. `schemas/plan.schema.json` closes every object, so a file
of our own version must match it exactly; for a newer minor only the unknown-key errors are forgiven.

Content hash: `content_sha256` is the lowercase hex sha256 of the UTF-8 bytes of
`json.dumps(document_without_content_sha256, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
— the parsed document, so re-indenting the file does not change it but editing any value does (unknown keys
of a newer minor version are covered too). Keys are ASCII and no number is fractional, so any JSON
implementation that sorts keys and writes compact JSON reproduces it.

Money: `estimated_monthly_saving_usd` = bytes_reclaimed / 10^9 (decimal GB, as AWS bills) x $0.10 per
GB-month (standard storage; archiving saves nothing below 150 TB), rounded half-up to cents. ECR sizes count
layers shared with kept images too, so it is an upper bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

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
    RepositorySummary,
)
from ecrgc.schemafiles import load_schema

FORMAT_VERSION = "1.0"
"""The plan format this ecrgc writes; it reads any 1.x."""

USD_PER_GB_MONTH = Decimal("0.10")
BYTES_PER_GB = 10**9
_MAX_ERRORS = 20  # a broken file can fail on every action; the first errors are enough to see why
_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)$")


def dumps(plan: Plan) -> str:
    """The canonical text of `plan` (sorted, stable, hashed, final newline)."""
    if plan.format_version != FORMAT_VERSION:
        raise ValueError(f"ecrgc writes plan format {FORMAT_VERSION}, not {plan.format_version}")
    document = _document(canonical(plan))
    document["content_sha256"] = _hash(document)
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def loads(text: str, *, source: str = "plan") -> Plan:
    """Parse and verify a plan: version, content hash, schema and summary totals. `source` names the file
    in error messages. Raises PlanRefused (tampered, unsupported major version) or ConfigError."""
    document = _parse(text, source)
    newer_minor = _check_version(document, source)
    if _hash({k: v for k, v in document.items() if k != "content_sha256"}) != document["content_sha256"]:
        raise PlanRefused(
            f"{source}: content hash mismatch: the plan was edited after it was made; re-run ecrgc plan"
        )
    _validate(document, source, forgive_unknown_keys=newer_minor)
    plan = _plan(document)
    totals = _summary(plan.summary)
    if totals != {key: document["summary"][key] for key in totals}:
        raise ConfigError(
            f"{source}: $.summary totals disagree with $.summary.repositories; re-run ecrgc plan"
        )
    return plan


def load_plan_file(path: str | os.PathLike[str]) -> Plan:
    """Read and verify the plan file at `path` (see `loads`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the plan file: {exc}") from exc
    return loads(text, source=str(path))


def write_plan_file(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write `dumps(plan)` to `path` atomically (a reader never sees half a plan), creating parent dirs."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(dumps(plan), encoding="utf-8", newline="\n")
    partial.replace(target)


def content_hash(plan: Plan) -> str:
    """The `content_sha256` that `dumps(plan)` writes: what apply reports and audits refer to."""
    return _hash(_document(canonical(plan)))


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
    by_key = {(a.repository, a.digest): a for a in listed}
    if len(by_key) != len(listed):
        raise ValueError("a plan lists the same image twice")
    depths: dict[tuple[str, str], int] = {}

    def depth(action: PlannedAction) -> int:
        chain: list[tuple[str, str]] = []
        key: tuple[str, str] | None = (action.repository, action.digest)
        # Iterative and cycle-safe: digests cannot form cycles, but a bad input must not hang us.
        while key is not None and key in by_key and key not in depths and key not in chain:
            chain.append(key)
            parent = by_key[key].parent
            key = (key[0], parent) if parent else None
        base = depths.get(key, -1) if key is not None else -1
        for offset, k in enumerate(reversed(chain), start=1):
            depths[k] = base + offset
        return depths[(action.repository, action.digest)]

    return tuple(sorted(listed, key=lambda a: (a.repository, depth(a), a.digest)))


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


# --- Plan -> document -------------------------------------------------------------------------------


def _document(plan: Plan) -> dict[str, Any]:
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
            **_summary(plan.summary),
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


def _summary(repositories: Sequence[RepositorySummary]) -> dict[str, Any]:
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


def _hash(document: Mapping[str, Any]) -> str:
    canonical_bytes = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical_bytes.encode("utf-8")).hexdigest()


# --- text -> Plan -----------------------------------------------------------------------------------


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON ({exc}); re-run ecrgc plan") from exc
    if not isinstance(document, dict) or not isinstance(document.get("content_sha256"), str):
        raise ConfigError(f"{source}: not an ecrgc plan (no content_sha256); re-run ecrgc plan")
    return document


def _check_version(document: Mapping[str, Any], source: str) -> bool:
    """Refuse another major version; True when the file is a newer minor version than ours."""
    version = document.get("format_version")
    match = _VERSION.match(version) if isinstance(version, str) else None
    ours = _VERSION.match(FORMAT_VERSION)
    assert ours is not None
    if match is None or match.group(1) != ours.group(1):
        raise PlanRefused(
            f"{source}: format_version {version!r} is not supported (this ecrgc reads {ours.group(1)}.x); "
            "use the ecrgc version that made the plan or re-run ecrgc plan"
        )
    return int(match.group(2)) > int(ours.group(2))


def _validate(document: Mapping[str, Any], source: str, *, forgive_unknown_keys: bool) -> None:
    errors = sorted(
        (_path(e.absolute_path), e.message[:200])
        for e in _validator().iter_errors(document)
        if not (forgive_unknown_keys and e.validator == "additionalProperties")
    )
    if errors:
        lines = [f"{source}::{path}: {message}" for path, message in errors[:_MAX_ERRORS]]
        if len(errors) > _MAX_ERRORS:
            lines.append(f"... and {len(errors) - _MAX_ERRORS} more")
        raise ConfigError(
            f"{source}: not a valid plan file ({len(errors)} errors); re-run ecrgc plan", tuple(lines)
        )


def _path(parts: Iterable[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema("plan.schema.json"))


def _plan(document: Mapping[str, Any]) -> Plan:
    summary = document["summary"]
    return Plan(
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
                kind=InputKind(i["kind"]), name=i["name"], sha256=i["sha256"], references=i["references"]
            )
            for i in document["inputs"]
        ),
        actions=tuple(_planned_action(a) for a in document["actions"]),
        repository_deletions=tuple(document["repository_deletions"]),
        protected=tuple(
            ProtectedImage(
                repository=p["repository"],
                digest=p["imageDigest"],
                tags=tuple(p["imageTags"]),
                sources=tuple(p["sources"]),
            )
            for p in document["protected"]
        ),
        summary=tuple(_repository(s) for s in summary["repositories"]),
    )


def _planned_action(entry: Mapping[str, Any]) -> PlannedAction:
    return PlannedAction(
        repository=entry["repository"],
        digest=entry["imageDigest"],
        tags=tuple(entry["imageTags"]),
        pushed_at=_timestamp(entry["pushedAt"]),
        last_pulled_at=_timestamp(entry["lastPulledAt"]) if entry["lastPulledAt"] else None,
        size_bytes=entry["sizeBytes"],
        media_type=entry["mediaType"],
        action=Action(entry["action"]),
        reason=Reason(entry["reason"]),
        parent=entry["parent"],
        policy=entry["policy"],
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
