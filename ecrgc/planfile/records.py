"""One repository's decisions -> its part of the plan: the encoded image records and the small results.

`repository_part(repository, policy, decisions, columns=..., hold=...)` is all a plan does per repository
besides deciding it. It is pure (no file, no shared state) and its `RepositoryPart` is made of bytes,
tuples and frozen records, so it may run in a worker process and be handed to the process that assembles
the plan, which merges it: `Spool.put(part)` stores the records, and the summary, the repository's
deletion and its images in use go to the plan (`commands.planbuilder.PlanBuilder`).
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Sequence
from itertools import chain

import msgspec

from ecrgc.model import (
    Action,
    Decision,
    ListsInUse,
    Policy,
    ProtectedImage,
    Reason,
    RepositorySummary,
    UsedBy,
)
from ecrgc.planfile import encode, writing
from ecrgc.planfile.columns import repository_columns
from ecrgc.planfile.ordering import chain_depths


class RepositoryPart(msgspec.Struct, frozen=True, kw_only=True):
    """One repository's part of a plan (see the module docstring)."""

    name: str
    summary: RepositorySummary
    delete_repository: bool
    """The policy deletes the repository: it has images, all of them removed, and deletes empty ones."""
    protected: tuple[ProtectedImage, ...]
    """Its images kept for being in use, with their sources (by digest)."""
    tags: list[str]
    """Every tag of its actions, in their canonical order, when asked for (`hold`: what a plan's views read
    of the actions it holds), else []."""
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
    by digest), encoded in the `columns` layout or the records layout; with its actions' tags when `hold`.

    The records are made straight from the decisions (one msgspec Struct per image, all encoded in one
    call), in canonical order: the actions by depth (a parent before what goes with it), then digest; the
    kept images by digest."""
    if not {d.image.repository for d in decisions} <= {repository}:
        raise ValueError(f"repository {repository} is given another repository's images")
    decisions = _by_digest(decisions)
    removed: list[Decision] = []
    kept: list[Decision] = []
    for decision in decisions:
        (kept if decision.action is _KEEP else removed).append(decision)
    removed, parents = _by_depth(removed)
    removed_tags, kept_tags = _tags(removed), _tags(kept)
    protected = tuple(_protected(d) for d in kept if d.reason is _IN_USE)
    sources = {p.digest: p.sources for p in protected}
    name = policy.name
    blobs: dict[str, bytes] = {}
    if columns and decisions:
        rows = [*removed, *kept]
        columned = repository_columns(
            repository,
            name,
            images=[d.image for d in rows],
            decided=rows,
            parents=[*parents, *(d.parent for d in kept)],
            tags=[*removed_tags, *kept_tags],
            removed=len(removed),
            sources=sources,
        )
        blobs["columns"] = writing.writer_lines([columned])
    elif decisions:
        blobs["actions"] = writing.struct_lines(
            [
                encode.removal(d.image, d, tags, name, parent)
                for d, tags, parent in zip(removed, removed_tags, parents, strict=True)
            ]
        )
        blobs["kept"] = writing.struct_lines(
            [
                encode.kept(d.image, d, tags, name, sources.get(d.image.digest, ()))
                for d, tags in zip(kept, kept_tags, strict=True)
            ]
        )
    empties = bool(decisions) and not kept and policy.action is Action.DELETE
    delete_repository = empties and policy.delete_empty_repositories
    return RepositoryPart(
        name=repository,
        summary=_summary(repository, policy, removed, kept, delete_repository=delete_repository),
        delete_repository=delete_repository,
        protected=protected,
        tags=list(chain.from_iterable(removed_tags)) if hold else [],
        counts=(len(removed), len(kept)),
        columns=columns,
        blobs={which: blob for which, blob in blobs.items() if blob},
    )


def _by_digest(decisions: Sequence[Decision]) -> Sequence[Decision]:
    """`decisions` by digest (as `decide` gives them: then as they are); an image twice is refused."""
    digests = [d.image.digest for d in decisions]  # (a dotted attrgetter costs twice as much)
    if all(map(operator.lt, digests, digests[1:])):
        return decisions
    if len(set(digests)) != len(digests):
        raise ValueError("a plan lists the same image twice")
    return sorted(decisions, key=lambda d: d.image.digest)


def _by_depth(removed: list[Decision]) -> tuple[list[Decision], list[str | None]]:
    """Removed images (by digest) in the plan's order: by depth, then digest (a stable sort); and their
    parents, in that order (`Decision.parent` is read once per image)."""
    parents = list(map(_PARENT, removed))
    digests = [d.image.digest for d in removed] if any(parents) else []
    if not set(digests).isdisjoint(parents):  # a removed image goes with another: some depth is not 0
        depths = list(map(chain_depths(dict(zip(digests, parents, strict=True))).__getitem__, digests))
        if any(depths):
            order = sorted(range(len(removed)), key=depths.__getitem__)
            return list(map(removed.__getitem__, order)), list(map(parents.__getitem__, order))
    return removed, parents


def _tags(decisions: list[Decision]) -> list[tuple[str, ...]]:
    """Each image's tags, sorted."""
    return [t if len(t) < 2 else tuple(sorted(t)) for t in map(_TAGS, decisions)]


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
            d.image.size_bytes for d in removed if d.action is _DELETE and not d.image.is_index
        ),
        delete_repository=delete_repository,
    )


_REASON, _ACTION, _PARENT = (operator.attrgetter(name) for name in ("reason", "action", "parent"))
_TAGS = operator.attrgetter("image.tags")
# An enum member read from its class costs ~0.4 µs (Python 3.11's EnumType), a module global ~0.03 µs: the
# loops over every image compare with these.
_KEEP, _DELETE, _IN_USE = Action.KEEP, Action.DELETE, Reason.IN_USE
