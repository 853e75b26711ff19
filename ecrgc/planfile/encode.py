"""Plan -> the canonical JSON document: its header and image records, for writing.py to write (see the package
docstring for the format and the hash; ordering.py puts the plan in canonical order first)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

import msgspec

from ecrgc.model import (
    Action,
    Evidence,
    Plan,
    PlannedAction,
    Reason,
    ReplicationRule,
    RepositorySummary,
)
from ecrgc.planfile import evidence

FORMAT_VERSION = "2.0"
"""The plan format this ecrgc writes; it reads any 2.x."""

USD_PER_GB_MONTH = Decimal("0.10")
BYTES_PER_GB = 10**9


def monthly_saving_usd(size_bytes: int) -> Decimal:
    """Estimated saving per month of freeing `size_bytes` of standard storage, in dollars, to the cent."""
    return (Decimal(size_bytes) / BYTES_PER_GB * USD_PER_GB_MONTH).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def format_timestamp(moment: datetime) -> str:
    """`moment` as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`; naive datetimes are a bug, not UTC."""
    if moment.tzinfo is UTC:
        # Every model timestamp is UTC: a plan writes two per action, so skip the offset arithmetic.
        return moment.isoformat()[:-6] + "Z"  # drop "+00:00"
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: ecrgc timestamps are timezone-aware")
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat().removesuffix("+00:00") + "Z"


def header(plan: Plan) -> dict[str, Any]:
    """What both layouts write besides the images: target, dates, policies, inputs, summary, deletions."""
    return {
        "format_version": plan.format_version,
        "ecrgc_version": plan.ecrgc_version,
        "created_at": format_timestamp(plan.created_at),
        "expires_at": format_timestamp(plan.expires_at),
        "target": {"account_id": plan.account, "region": plan.region},
        "policies": [{"name": p.name, "sha256": p.sha256, "document": p.document} for p in plan.policies],
        "inputs": [
            {
                "kind": str(i.kind),
                "name": i.name,
                "sha256": i.sha256,
                "references": i.references,
                "this_registry": i.this_registry,
                "other_accounts_or_regions": i.other_accounts,
                "other_registries": i.other_registries,
                "images_protected": i.protected,
            }
            for i in plan.inputs
        ],
        "summary": {
            **summary_totals(plan.summary),
            "repositories": map(_repository_summary, plan.summary),
        },
        "repository_deletions": list(plan.repository_deletions),
        **(
            {}
            if plan.replication is None
            else {"replication": list(map(_replication_rule, plan.replication))}
        ),
    }


def _replication_rule(rule: ReplicationRule) -> dict[str, Any]:
    return {
        "destinations": [
            {"account_id": d.account, "region": d.region, "target": d.target} for d in rule.destinations
        ],
        "prefixes": list(rule.prefixes),
        "delete_replication": rule.delete_replication,
    }


def document(plan: Plan) -> dict[str, Any]:
    """The records layout (`.json`) of a canonical `plan`, without its content hash, for `write_document`:
    one record per image, `actions` then `kept` (an in-use image's record names its sources).

    The image lists are lazy (each record is made as it is written, then dropped); their records are
    msgspec Structs (`ActionRecord`, `KeptRecord`), for `writer_record`."""
    return {**header(plan), "actions": map(action_record, plan.actions), "kept": _kept_records(plan)}


def _kept_records(plan: Plan) -> Iterator[KeptRecord]:
    sources = sources_of(plan)
    for image in plan.kept:
        yield kept_record(image, sources.pop((image.repository, image.digest), ()))
    unclaimed(sources)


def sources_of(plan: Plan) -> dict[tuple[str, str], tuple[str, ...]]:
    """(repository, digest) -> who uses it, for each protected image (each must have a kept record)."""
    return {(p.repository, p.digest): p.sources for p in plan.protected}


def unclaimed(sources: Mapping[tuple[str, str], tuple[str, ...]]) -> None:
    """Raise when a protected image (what is left of `sources_of` once the kept records took theirs) has no
    kept record: the file folds `protected` into the kept records, so it would be lost."""
    if sources:
        repository, digest = next(iter(sources))
        raise ValueError(f"the protected image {repository}@{digest} is not among the plan's kept images")


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


class ActionRecord(msgspec.Struct, rename="camel", gc=False):
    """An action's record (an element of `actions`), as `writer_record` writes it: keys in the camelCase
    of the file, sorted (the fields are in that order, so they may be given by position)."""

    action: Action
    image_digest: str
    image_tags: tuple[str, ...]
    """Sorted."""
    last_pulled_at: datetime | str | None
    """See `timestamp`."""
    media_type: str
    parent: str | None
    policy: str
    pushed_at: datetime | str
    """See `timestamp`."""
    reason: Reason
    repository: str
    size_bytes: int


class KeptRecord(msgspec.Struct, rename="camel", gc=False):
    """A kept image's record (an element of `kept`): an action's fields but `action`, the evidence (see
    planfile.evidence) and the sources of an in-use one (sorted; [] for any other)."""

    evidence: list[Any] | None
    image_digest: str
    image_tags: tuple[str, ...]
    last_pulled_at: datetime | str | None
    media_type: str
    parent: str | None
    policy: str
    pushed_at: datetime | str
    reason: Reason
    repository: str
    size_bytes: int
    sources: Sequence[str]
    """Sorted."""


class Pictured(Protocol):
    """What a record says of an image besides its decision: an `Image` (a plan being made) or a
    `PlannedAction` (a plan in memory) both have it."""

    @property
    def repository(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def pushed_at(self) -> datetime: ...
    @property
    def last_pulled_at(self) -> datetime | None: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def media_type(self) -> str: ...


class Decided(Protocol):
    """What a record says of an image's decision: a `Decision` (a plan being made) or a `PlannedAction`."""

    @property
    def action(self) -> Action: ...
    @property
    def reason(self) -> Reason: ...
    @property
    def parent(self) -> str | None: ...
    @property
    def evidence(self) -> Evidence | None: ...


def kept_record(image: PlannedAction, sources: tuple[str, ...]) -> KeptRecord:
    """The record of a kept image of a plan (`image.tags` sorted)."""
    return kept(image, image, image.tags, image.policy, sources)


def kept(
    image: Pictured, decided: Decided, tags: tuple[str, ...], policy: str, sources: Collection[str]
) -> KeptRecord:
    """The record of a kept image: its `tags` sorted, why it is kept, who uses it (in any order)."""
    pulled = image.last_pulled_at
    return KeptRecord(
        evidence.encode(decided.evidence),
        image.digest,
        tags,
        None if pulled is None else timestamp(pulled),
        image.media_type,
        decided.parent,
        policy,
        timestamp(image.pushed_at),
        decided.reason,
        image.repository,
        image.size_bytes,
        sorted(sources) if sources else (),
    )


def action_record(action: PlannedAction) -> ActionRecord:
    """The record of an action of a plan (`action.tags` sorted)."""
    return removal(action, action, action.tags, action.policy, action.parent)


def removal(
    image: Pictured, decided: Decided, tags: tuple[str, ...], policy: str, parent: str | None
) -> ActionRecord:
    """The record of an image deleted or archived: its `tags` sorted, its `parent` (`decided.parent`, read
    by the caller: a `Decision` computes it)."""
    pulled = image.last_pulled_at
    return ActionRecord(
        decided.action,
        image.digest,
        tags,
        None if pulled is None else timestamp(pulled),
        image.media_type,
        parent,
        policy,
        timestamp(image.pushed_at),
        decided.reason,
        image.repository,
        image.size_bytes,
    )


def timestamp(moment: datetime) -> datetime | str:
    """`moment` for a record: a UTC datetime as it is (msgspec writes `format_timestamp`'s text), else that
    text."""
    return moment if moment.tzinfo is UTC else format_timestamp(moment)
