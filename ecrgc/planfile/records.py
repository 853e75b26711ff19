"""One repository's decisions -> its part of the plan: the encoded image records and the small results.

`repository_part(repository, policy, decisions, columns=..., hold=...)` is all a plan does per repository
besides deciding it. It is pure (no file, no shared state) and its `RepositoryPart` is made of bytes,
tuples and frozen records, so it may run in a worker process and be handed to the process that assembles
the plan, which merges it: `Spool.put(part)` stores the records, and the summary, the repository's
deletion and its images in use go to the plan (`commands.plan._PlanBuilder`).
"""

from __future__ import annotations

import operator
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
from ecrgc.planfile.columns import repository_columns


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
    """The plan file's list ("actions" and "kept", or "columns") -> its records of this repository, each
    followed by a newline (a JSON record holds no raw newline); a list without any is absent."""


def repository_part(
    repository: str, policy: Policy, decisions: Sequence[Decision], *, columns: bool, hold: bool
) -> RepositoryPart:
    """The part of `repository`, decided by `policy` into `decisions` (one per image; `decide` gives them
    by digest), encoded in the `columns` layout or the records layout; with its actions as records when
    `hold`.

    The records are made straight from the decisions (one msgspec Struct per image, all encoded in one
    call), in canonical order: the actions by depth (a parent before what goes with it), then digest; the
    kept images by digest."""
    if any(d.image.repository != repository for d in decisions):
        raise ValueError(f"repository {repository} is given another repository's images")
    decisions = _by_digest(decisions)
    removed = _by_depth([d for d in decisions if d.action is not Action.KEEP])
    kept = [d for d in decisions if d.action is Action.KEEP]
    protected = tuple(_protected(d) for d in kept if d.reason is Reason.IN_USE)
    sources = {p.digest: p.sources for p in protected}
    name = policy.name
    blobs: dict[str, bytes] = {}
    if columns and decisions:
        rows = [*removed, *kept]
        images, tags = [d.image for d in rows], [_tags(d) for d in rows]
        columned = repository_columns(
            repository, name, images=images, decided=rows, tags=tags, removed=len(removed), sources=sources
        )
        blobs["columns"] = encode.writer_lines([columned])
    elif decisions:
        blobs["actions"] = encode.writer_lines([encode.removal(d.image, d, _tags(d), name) for d in removed])
        blobs["kept"] = encode.writer_lines(
            [encode.kept(d.image, d, _tags(d), name, sources.get(d.image.digest, ())) for d in kept]
        )
    empties = bool(decisions) and not kept and policy.action is Action.DELETE
    delete_repository = empties and policy.delete_empty_repositories
    return RepositoryPart(
        name=repository,
        summary=_summary(repository, policy, removed, kept, delete_repository=delete_repository),
        delete_repository=delete_repository,
        protected=protected,
        actions=tuple(_planned(d, policy) for d in removed) if hold else (),
        counts=(len(removed), len(kept)),
        columns=columns,
        blobs={which: blob for which, blob in blobs.items() if blob},
    )


def _by_digest(decisions: Sequence[Decision]) -> Sequence[Decision]:
    """`decisions` by digest (as `decide` gives them: then as they are); an image twice is refused."""
    digests = [d.image.digest for d in decisions]
    if all(map(operator.lt, digests, digests[1:])):
        return decisions
    if len(set(digests)) != len(digests):
        raise ValueError("a plan lists the same image twice")
    return sorted(decisions, key=lambda d: d.image.digest)


def _by_depth(removed: list[Decision]) -> list[Decision]:
    """Removed images (by digest) in the plan's order: by depth, then digest (a stable sort)."""
    parents = {d.image.digest: d.parent for d in removed}
    if any(parents.values()) and any((depth := encode.chain_depths(parents)).values()):
        removed.sort(key=lambda d: depth[d.image.digest])
    return removed


def _tags(decision: Decision) -> tuple[str, ...]:
    tags = decision.image.tags
    return tags if len(tags) < 2 else tuple(sorted(tags))


def _planned(decision: Decision, policy: Policy) -> PlannedAction:
    """The action of a removed image."""
    image = decision.image
    return PlannedAction(
        repository=image.repository,
        digest=image.digest,
        tags=_tags(decision),
        pushed_at=image.pushed_at,
        last_pulled_at=image.last_pulled_at,
        size_bytes=image.size_bytes,
        media_type=image.media_type,
        action=decision.action,
        reason=decision.reason,
        parent=decision.parent,
        policy=policy.name,
        # No evidence: a removed image's is its record (see planfile.evidence).
    )


def _protected(decision: Decision) -> ProtectedImage:
    image = decision.image
    # An index kept for an in-use child is used by whoever uses the child (its evidence names the child).
    used = decision.evidence
    sources = used.sources if isinstance(used, UsedBy | ListsInUse) else ()
    return ProtectedImage(repository=image.repository, digest=image.digest, tags=image.tags, sources=sources)


def _summary(
    name: str, policy: Policy, removed: list[Decision], kept: list[Decision], *, delete_repository: bool
) -> RepositorySummary:
    reasons = Counter(map(_REASON, kept))
    actions = Counter(map(_ACTION, removed))
    return RepositorySummary(
        repository=name,
        policy=policy.name,
        scanned=len(removed) + len(kept),
        kept=dict(sorted(reasons.items())),
        deleted=actions[Action.DELETE],
        archived=actions[Action.ARCHIVE],
        # Archiving saves nothing below 150 TB a month; an index reports its largest child's size, and
        # the children are counted themselves.
        bytes_reclaimed=sum(
            d.image.size_bytes for d in removed if d.action is Action.DELETE and not d.image.is_index
        ),
        delete_repository=delete_repository,
    )


_REASON, _ACTION = operator.attrgetter("reason"), operator.attrgetter("action")
