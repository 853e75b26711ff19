"""Carrying out one repository's batches: one registry call at a time, each call's outcomes reported at once.

`Guard` is the only path from here to the registry: it refuses any digest or repository the plan does not
name, so whatever verification decides, apply can never delete more than what was reviewed. `Executor` runs
the calls of `batches.calls` level by level, skips a step whose live parent was not removed, and hands every
call's outcomes to the sink before it sends the next call: the streamed report of a killed apply misses at
most the one call in flight per worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ecrgc.apply.batches import Batches, Step, calls, skipped, would_apply
from ecrgc.model import Action, Outcome, OutcomeReason, OutcomeStatus, Plan

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
    """Carries out (or, in a dry run, renders) one repository's batches."""

    guard: Guard
    dry_run: bool
    sink: Sink

    def run(self, batches: Batches) -> list[Outcome]:
        """Every outcome of the repository, each handed to the sink as soon as it is known."""
        if self.dry_run:
            return self._emit(would_apply(batches))
        outcomes = self._emit(list(batches.settled))
        done: dict[str, Outcome] = {}
        for level in batches.levels:
            ready = [step for step in level if self._parents_removed(step, done, outcomes)]
            for action, chosen in calls(ready):
                digests = [a.digest for a in chosen]
                if action is Action.DELETE:
                    answered = self.guard.delete_images(batches.name, digests)
                else:
                    answered = self.guard.archive_images(batches.name, digests)
                done.update((o.digest, o) for o in answered)
                outcomes += self._emit(answered)
        if batches.repository_refused is not None:
            outcomes += self._emit([batches.repository_refused])
        if batches.delete_repository:
            outcomes += self._emit([self._delete_repository(batches.name, outcomes)])
        return outcomes

    def _parents_removed(self, step: Step, done: dict[str, Outcome], outcomes: list[Outcome]) -> bool:
        """True when every live parent of `step` was removed; else its skip is reported."""
        kept = [p for p in step.after if (o := done.get(p)) is None or o.status not in DONE]
        if kept:
            parent = done.get(kept[0])
            was = f"{parent.status} ({parent.reason or 'no reason'})" if parent else "not removed"
            note = f"goes with {kept[0]}, which was {was}"
            skip = skipped(step.action, OutcomeReason.PARENT_KEPT, note)
            done[step.action.digest] = skip
            outcomes += self._emit([skip])
        return not kept

    def _delete_repository(self, name: str, outcomes: Sequence[Outcome]) -> Outcome:
        if left := sum(o.status not in DONE for o in outcomes):
            return Outcome(
                repository=name,
                digest="",
                status=OutcomeStatus.SKIPPED,
                reason=OutcomeReason.IMAGES_LEFT,
                detail=f"{left} planned images were not removed, so the repository is not empty",
            )
        return self.guard.delete_repository_if_empty(name)

    def _emit(self, outcomes: list[Outcome]) -> list[Outcome]:
        for outcome in outcomes:
            self.sink(outcome)
        return outcomes
