"""One repository's decisions -> its part of the plan: the encoded image records and the small results.

`repository_part(repository, policy, decisions, columns=..., hold=...)` is all a plan does per repository
besides deciding it. It is pure (no file, no shared state) and its `RepositoryPart` is made of bytes,
tuples and frozen records, so it may run in a worker process and be handed to the process that assembles
the plan, which merges it: `Spool.put(part)` stores the records, and the summary, the repository's
deletion and its images in use go to the plan (`commands.plan._PlanBuilder`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ecrgc.model import (
    Action,
    Decision,
    ListsInUse,
    PlannedAction,
    Policy,
    ProtectedImage,
    Reason,
    RepositorySummary,
    UsedBy,
)
from ecrgc.planfile import encode
from ecrgc.planfile.columns import encode_repository


@dataclass(frozen=True, slots=True, kw_only=True)
class RepositoryPart:
    """One repository's part of a plan (see the module docstring)."""

    name: str
    summary: RepositorySummary
    delete_repository: bool
    """The policy deletes the repository: it has images, all of them removed, and deletes empty ones."""
    protected: tuple[ProtectedImage, ...]
    """Its images kept for being in use, with their sources (by digest)."""
    actions: tuple[PlannedAction, ...]
    """Its actions in canonical order when asked for (`hold`), else ()."""
    counts: tuple[int, int]
    """(actions, kept images)."""
    columns: bool
    """The layout `blobs` are encoded in: the columns layout's (`.json.gz`), else the records layout's."""
    blobs: dict[str, bytes]
    """The plan file's list ("actions" and "kept", or "columns") -> its records of this repository, one a
    line (a JSON record holds no raw newline); a list without any is absent."""


def repository_part(
    repository: str, policy: Policy, decisions: Sequence[Decision], *, columns: bool, hold: bool
) -> RepositoryPart:
    """The part of `repository`, decided by `policy` into `decisions` (one per image), encoded in the
    `columns` layout or the records layout; with its actions as records when `hold`."""
    removed = [d for d in decisions if d.action is not Action.KEEP]
    protected = tuple(_protected(d) for d in decisions if d.reason is Reason.IN_USE)
    ordered = encode.order_actions(encode.with_sorted_tags(_planned(d, policy)) for d in removed)
    keeps = sorted(
        (encode.with_sorted_tags(_planned(d, policy)) for d in decisions if d.action is Action.KEEP),
        key=lambda k: k.digest,
    )
    blobs: dict[str, bytes] = {}
    if decisions:
        sources = {p.digest: tuple(sorted(p.sources)) for p in protected}
        if columns:
            blobs["columns"] = encode.writer_record(encode_repository(ordered, keeps, sources))
        else:
            records = [encode.kept_record(k, sources.pop(k.digest, ())) for k in keeps]
            encode.unclaimed({(repository, digest): () for digest in sources})
            blobs["actions"] = b"\n".join(map(encode.writer_record, map(encode.action_record, ordered)))
            blobs["kept"] = b"\n".join(map(encode.writer_record, records))
    empties = bool(decisions) and len(removed) == len(decisions) and policy.action is Action.DELETE
    delete_repository = empties and policy.delete_empty_repositories
    return RepositoryPart(
        name=repository,
        summary=_summary(repository, policy, decisions, delete_repository=delete_repository),
        delete_repository=delete_repository,
        protected=protected,
        actions=ordered if hold else (),
        counts=(len(ordered), len(keeps)),
        columns=columns,
        blobs={which: blob for which, blob in blobs.items() if blob},
    )


def _planned(decision: Decision, policy: Policy) -> PlannedAction:
    image = decision.image
    return PlannedAction(
        repository=image.repository,
        digest=image.digest,
        tags=image.tags,
        pushed_at=image.pushed_at,
        last_pulled_at=image.last_pulled_at,
        size_bytes=image.size_bytes,
        media_type=image.media_type,
        action=decision.action,
        reason=decision.reason,
        parent=decision.parent,
        policy=policy.name,
        # Only kept images carry it in the plan file (see planfile.evidence): a removed one's is its record.
        evidence=decision.evidence if decision.action is Action.KEEP else None,
    )


def _protected(decision: Decision) -> ProtectedImage:
    image = decision.image
    # An index kept for an in-use child is used by whoever uses the child (its evidence names the child).
    used = decision.evidence
    sources = used.sources if isinstance(used, UsedBy | ListsInUse) else ()
    return ProtectedImage(repository=image.repository, digest=image.digest, tags=image.tags, sources=sources)


def _summary(
    name: str, policy: Policy, decisions: Sequence[Decision], *, delete_repository: bool
) -> RepositorySummary:
    kept = Counter(d.reason for d in decisions if d.action is Action.KEEP)
    return RepositorySummary(
        repository=name,
        policy=policy.name,
        scanned=len(decisions),
        kept=dict(sorted(kept.items())),
        deleted=sum(d.action is Action.DELETE for d in decisions),
        archived=sum(d.action is Action.ARCHIVE for d in decisions),
        # Archiving saves nothing below 150 TB a month; an index reports its largest child's size, and
        # the children are counted themselves.
        bytes_reclaimed=sum(
            d.image.size_bytes for d in decisions if d.action is Action.DELETE and not d.image.is_index
        ),
        delete_repository=delete_repository,
    )
