"""Apply's ordered batches, as data: which verified actions go in which registry call, in which order.

Built from the checks and the LIVE repository only; the plan's `parent` fields play no part. An image goes
in a later level than each of its live parents (an index that lists it, the image it is attached to), so an
index or subject is always removed in an earlier call than its children and referrers (ECR leaves the
same-call case undocumented). An action that passed its checks but has a live parent this apply does not
remove is left alone: its fresh decision removes it only together with that parent.

`--dry-run` and `plan --check` render these batches (`would_apply`); the executor carries them out, one
registry call per `calls` entry.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

from msgspec.structs import replace

from ecrgc.apply.verification import Verified
from ecrgc.model import Action, Outcome, OutcomeReason, OutcomeStatus, PlannedAction, Reason, Repository
from ecrgc.verify import Check, Verdict

MAX_BATCH_DELETE = 100
"""BatchDeleteImage takes at most 100 image ids per call."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One verified action, and its live parents: each must have been removed before it is carried out."""

    action: PlannedAction
    after: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Batches:
    """One repository's share of an apply: what is settled before any call, then the calls level by level."""

    name: str
    settled: tuple[Outcome, ...]
    """Outcomes known without calling the registry: failed preconditions, already absent, parent kept."""
    levels: tuple[tuple[Step, ...], ...]
    """Steps by level: every live parent of a step is in an earlier level."""
    delete_repository: bool
    """After the images, delete the repository if ECR finds it empty."""
    repository_refused: Outcome | None = None
    """The plan asks to delete the repository, but its policy does not delete empty repositories."""

    @property
    def steps(self) -> Iterator[Step]:
        """Every step, level by level."""
        for level in self.levels:
            yield from level


def calls(steps: Sequence[Step]) -> list[tuple[Action, tuple[PlannedAction, ...]]]:
    """The registry calls of one level: deletions 100 at a time, then archives one at a time (ECR's
    UpdateImageStorageClass takes one image)."""
    deletes = [s.action for s in steps if s.action.action is Action.DELETE]
    archives = [s.action for s in steps if s.action.action is Action.ARCHIVE]
    found = [
        (Action.DELETE, tuple(deletes[n : n + MAX_BATCH_DELETE]))
        for n in range(0, len(deletes), MAX_BATCH_DELETE)
    ]
    return found + [(Action.ARCHIVE, (action,)) for action in archives]


def order(verified: Verified) -> Batches:
    """The batches of one verified repository (see the module docstring)."""
    parents = live_parents(verified.live)
    settled = [unapplied(c) for c in verified.checks if c.verdict is not Verdict.OK]
    ready = {c.action.digest: c.action for c in verified.checks if c.verdict is Verdict.OK}
    while blocked := [d for d in ready if any(p not in ready for p in parents.get(d, ()))]:
        for digest in blocked:
            parent = next(p for p in parents[digest] if p not in ready)
            note = f"goes with {parent}, which this apply does not remove"
            settled.append(skipped(ready.pop(digest), OutcomeReason.PARENT_KEPT, note))
    refused = None
    if verified.delete_repository and not verified.may_delete_repository:
        note = "the repository's policy does not delete empty repositories"
        refused = Outcome(
            repository=verified.name,
            digest="",
            status=OutcomeStatus.SKIPPED,
            reason=OutcomeReason.NOT_SELECTED,
            detail=note,
        )
    return Batches(
        name=verified.name,
        settled=tuple(settled),
        levels=_levels(ready, parents),
        delete_repository=verified.delete_repository and verified.may_delete_repository,
        repository_refused=refused,
    )


def live_parents(live: Repository) -> dict[str, tuple[str, ...]]:
    """digest -> the images of `live` that list it (indexes) or that it is attached to (its referent)."""
    present = {image.digest for image in live.images}
    found: dict[str, set[str]] = {}
    for image in live.images:
        for child in image.children:
            if child in present and child != image.digest:
                found.setdefault(child, set()).add(image.digest)
        if image.referent in present and image.referent != image.digest:
            found.setdefault(image.digest, set()).add(image.referent)
    return {digest: tuple(sorted(p)) for digest, p in found.items()}


def _levels(
    ready: Mapping[str, PlannedAction], parents: Mapping[str, tuple[str, ...]]
) -> tuple[tuple[Step, ...], ...]:
    """Kahn's layering; images in a cycle (possible only through cosign tags, which ECR does not enforce)
    go last, together, needing only their parents outside the cycle."""
    placed: set[str] = set()
    levels: list[tuple[Step, ...]] = []
    left = sorted(ready)
    while left:
        level = [d for d in left if all(p in placed for p in parents.get(d, ()))]
        cycle = not level
        level = level or left
        after = {d: tuple(p for p in parents.get(d, ()) if p in placed) for d in level}
        levels.append(tuple(Step(action=ready[d], after=after[d]) for d in level))
        placed.update(level)
        left = [] if cycle else [d for d in left if d not in placed]
    return tuple(levels)


def would_apply(batches: Batches) -> list[Outcome]:
    """What a dry run reports: the settled outcomes, then every step (and the repository) as would_apply."""
    outcomes = list(batches.settled)
    outcomes += [_outcome(s.action, OutcomeStatus.WOULD_APPLY) for s in batches.steps]
    if batches.repository_refused is not None:
        outcomes.append(batches.repository_refused)
    if batches.delete_repository:
        outcomes.append(Outcome(repository=batches.name, digest="", status=OutcomeStatus.WOULD_APPLY))
    return outcomes


def skipped(action: PlannedAction, reason: OutcomeReason, detail: str) -> Outcome:
    """A planned action left alone, with why."""
    return Outcome(
        repository=action.repository,
        digest=action.digest,
        status=OutcomeStatus.SKIPPED,
        reason=reason,
        detail=detail,
    )


def unapplied(check: Check) -> Outcome:
    """The outcome of an action whose preconditions failed (or that is already done)."""
    action = check.action
    if check.verdict is Verdict.GONE:
        return _outcome(action, OutcomeStatus.ALREADY_ABSENT)
    if check.reason is Reason.ALREADY_ARCHIVED and action.action is Action.ARCHIVE:
        return _outcome(action, OutcomeStatus.ALREADY_ABSENT, OutcomeReason.ALREADY_ARCHIVED)
    outcome = skipped(action, _reason(check.verdict), check.detail)
    return replace(outcome, kept_by=check.reason) if check.verdict is Verdict.KEPT else outcome


def _reason(verdict: Verdict) -> OutcomeReason:
    match verdict:
        case Verdict.KEPT:
            return OutcomeReason.KEPT
        case Verdict.TAGS_CHANGED:
            return OutcomeReason.TAGS_CHANGED
        case Verdict.RELATION_CHANGED:
            return OutcomeReason.RELATION_CHANGED
        case Verdict.NOT_SELECTED:
            return OutcomeReason.NOT_SELECTED
        case Verdict.ACTION_CHANGED:
            return OutcomeReason.ACTION_CHANGED
        case Verdict.OK | Verdict.GONE:
            raise ValueError(f"verdict {verdict} is no reason to leave an image alone")
        case unreachable:  # pragma: no cover  # mypy proves every Verdict is handled above
            assert_never(unreachable)


def _outcome(action: PlannedAction, status: OutcomeStatus, reason: OutcomeReason | None = None) -> Outcome:
    return Outcome(repository=action.repository, digest=action.digest, status=status, reason=reason)
