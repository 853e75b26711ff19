"""Carrying out verified plan actions: parents before what goes with them, and nothing the plan does not name.

`Guard` is the only path from here to the registry: it refuses any digest or repository the plan does not
name, so whatever verification decides, apply can never delete more than what was reviewed. `Executor`
applies one repository's checks level by level of the plan's parent chains (an index or subject in an
earlier BatchDeleteImage call than its children and referrers: ECR leaves the same-call case undocumented),
and skips what goes with a parent that was not removed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ecrgc.model import Action, Outcome, OutcomeStatus, Plan, PlannedAction, Reason
from ecrgc.planfile import depths
from ecrgc.verify import Check, Verdict

DONE = frozenset({OutcomeStatus.DELETED, OutcomeStatus.ARCHIVED, OutcomeStatus.ALREADY_ABSENT})
"""The statuses that mean the planned action has taken effect."""


class Mutator(Protocol):
    """The registry's changing calls (implemented by `ecrgc.aws.Registry`)."""

    def delete_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]: ...

    def archive_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]: ...

    def delete_repository_if_empty(self, name: str) -> Outcome: ...


OutcomeSink = Callable[[Outcome], None]
"""Called once per outcome as soon as it is known (from worker threads, one at a time)."""


class Guard:
    """The only path from the executor to the registry: it refuses anything the plan does not name."""

    def __init__(self, registry: Mutator, plan: Plan) -> None:
        self._registry = registry
        self._images = {(a.repository, a.digest, a.action) for a in plan.actions}
        self._repositories = frozenset(plan.repository_deletions)

    def delete_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]:
        self._require(repository, digests, Action.DELETE)
        return self._registry.delete_images(repository, digests) if digests else []

    def archive_images(self, repository: str, digests: Sequence[str]) -> list[Outcome]:
        self._require(repository, digests, Action.ARCHIVE)
        return self._registry.archive_images(repository, digests) if digests else []

    def delete_repository_if_empty(self, name: str) -> Outcome:
        if name not in self._repositories:
            raise AssertionError(f"apply tried to delete repository {name}, which the plan does not name")
        return self._registry.delete_repository_if_empty(name)

    def _require(self, repository: str, digests: Sequence[str], action: Action) -> None:
        if stray := [d for d in digests if (repository, d, action) not in self._images]:
            raise AssertionError(f"apply tried to {action} {stray[0]} in {repository}, not in the plan")


class Sink:
    """Serialises the outcome callback across worker threads."""

    def __init__(self, callback: OutcomeSink | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()

    def __call__(self, outcome: Outcome) -> None:
        if self._callback is not None:
            with self._lock:
                self._callback(outcome)


@dataclass(frozen=True, slots=True, kw_only=True)
class Executor:
    """Applies one repository's checked actions, level by level of the plan's parent chains."""

    guard: Guard
    plan: Plan
    dry_run: bool
    sink: Sink

    def run(self, item: tuple[str, tuple[Check, ...]]) -> list[Outcome]:
        name, checks = item
        depth = depths(c.action for c in checks)
        done: dict[str, Outcome] = {}
        for level in sorted(set(depth.values())):
            self._level([c for c in checks if depth[c.action.digest] == level], done)
        outcomes = list(done.values())
        if name in self.plan.repository_deletions:
            outcomes.append(self._emit(self._delete_repository(name, outcomes)))
        return outcomes

    def _level(self, checks: Sequence[Check], done: dict[str, Outcome]) -> None:
        ready: list[PlannedAction] = []
        for check in checks:
            parent = done.get(check.action.parent or "")
            if check.verdict is not Verdict.OK:
                done[check.action.digest] = self._emit(unapplied(check))
            elif parent is not None and parent.status not in {*DONE, OutcomeStatus.WOULD_APPLY}:
                done[check.action.digest] = self._emit(_parent_kept(check.action, parent))
            else:
                ready.append(check.action)
        for outcome in self._carry_out(ready):
            done[outcome.digest] = self._emit(outcome)

    def _carry_out(self, actions: Sequence[PlannedAction]) -> list[Outcome]:
        if self.dry_run:
            return [_would_apply(a.repository, a.digest) for a in actions]
        if not actions:
            return []
        name = actions[0].repository
        deletes = [a.digest for a in actions if a.action is Action.DELETE]
        archives = [a.digest for a in actions if a.action is Action.ARCHIVE]
        return self.guard.delete_images(name, deletes) + self.guard.archive_images(name, archives)

    def _delete_repository(self, name: str, outcomes: Sequence[Outcome]) -> Outcome:
        finished = {*DONE, OutcomeStatus.WOULD_APPLY}
        if left := sum(o.status not in finished for o in outcomes):
            detail = f"{left} planned images were not deleted, so the repository is not empty"
            return Outcome(
                repository=name, digest="", status=OutcomeStatus.SKIPPED, reason="images_left", detail=detail
            )
        return _would_apply(name, "") if self.dry_run else self.guard.delete_repository_if_empty(name)

    def _emit(self, outcome: Outcome) -> Outcome:
        self.sink(outcome)
        return outcome


def _parent_kept(action: PlannedAction, parent: Outcome) -> Outcome:
    return Outcome(
        repository=action.repository,
        digest=action.digest,
        status=OutcomeStatus.SKIPPED,
        reason="parent_kept",
        detail=f"goes with {action.parent}, which was {parent.status} ({parent.reason or 'no reason'})",
    )


def _would_apply(repository: str, digest: str) -> Outcome:
    return Outcome(repository=repository, digest=digest, status=OutcomeStatus.WOULD_APPLY)


def unapplied(check: Check) -> Outcome:
    """The outcome of an action whose preconditions failed (or that is already done)."""
    action = check.action
    if check.verdict is Verdict.GONE or (
        check.reason is Reason.ALREADY_ARCHIVED and action.action is Action.ARCHIVE
    ):
        reason = "already_archived" if check.verdict is Verdict.KEPT else ""
        status = OutcomeStatus.ALREADY_ABSENT
        return Outcome(repository=action.repository, digest=action.digest, status=status, reason=reason)
    reason = str(check.reason) if check.verdict is Verdict.KEPT and check.reason else str(check.verdict)
    return Outcome(
        repository=action.repository,
        digest=action.digest,
        status=OutcomeStatus.SKIPPED,
        reason=reason,
        detail=check.detail,
    )
