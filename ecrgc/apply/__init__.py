"""Apply: execute exactly a reviewed plan, trusting nothing in it but its list of digests.

A plan file comes through a pull request: whoever can push to the branch can edit it and recompute its
content hash. So apply takes from it only which images it may touch, and re-derives everything else:

1. Refuse the plan as a whole (nothing touched) when it is tampered, of another major format, expired, for
   another account or region than the credentials in use (`check_target`), or embeds policy documents that
   are not exactly the repository's (`verification.trusted_policies`).
2. Fresh verification (`verification`): re-collect the live state (every planned repository in full, and
   the in-use sources the repository's policies name) and decide it afresh with those policies; an action
   passes only when the fresh decision removes its image the same way (`verify`).
3. Ordered batches (`batches`), from live relations only: parents before their children and referrers.
4. The executor (`executor`) carries them out one call at a time, each call's outcomes streamed to the
   report (`report`) before the next call; then the repository deletions, if ECR finds them empty.

So apply deletes only images that a fresh decision on live state would delete AND that the plan lists: a
plan can only narrow what apply does. The registry is changed only through `executor.Guard`, which refuses
any digest or repository the plan does not name. An image already gone counts as done, so re-applying a
finished plan changes nothing, and re-applying an interrupted one finishes the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from ecrgc.apply.batches import Batches, order, skipped
from ecrgc.apply.executor import Executor, Guard, Mutator, OutcomeSink, Sink
from ecrgc.apply.report import ApplyReport
from ecrgc.apply.verification import LiveState, Verified, Verifier
from ecrgc.errors import EcrgcError, PlanRefused
from ecrgc.model import (
    DEFAULT_APPLY_WORKERS,
    OnDrift,
    Outcome,
    OutcomeReason,
    OutcomeStatus,
    Plan,
    Policy,
    expired,
)
from ecrgc.planfile import content_hash, format_timestamp

if TYPE_CHECKING:
    from ecrgc.usage import Collector  # its sources import the AWS SDK: not for a plan's loading

DEFAULT_WORKERS = DEFAULT_APPLY_WORKERS  # in ecrgc.model, so that the CLI's options need not import apply


class Target(Mutator, LiveState, Protocol):
    """What apply needs from a registry (implemented by `ecrgc.aws.Registry`)."""

    @property
    def region(self) -> str: ...

    def caller_account(self) -> str: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    """What one apply (or dry run, or check) of one plan did; `report` is what the report file holds."""

    plan: Plan
    report: ApplyReport
    aborted: bool = False
    """`--on-drift=abort` found a failed precondition, so nothing was applied."""

    @property
    def conflicts(self) -> tuple[Outcome, ...]:
        """The images skipped or failed, in report order."""
        problems = (OutcomeStatus.SKIPPED, OutcomeStatus.FAILED)
        return tuple(o for o in self.report.outcomes if o.status in problems)

    @property
    def drifted(self) -> tuple[Outcome, ...]:
        """The conflicts themselves: without the images `--on-drift=abort` left alone because of them."""
        return tuple(o for o in self.conflicts if o.reason is not OutcomeReason.ABORTED)


def apply_plan(
    plan: Plan,
    *,
    source: str,
    policies: Sequence[Policy],
    registry: Target,
    usage: Collector,
    now: datetime,
    on_drift: OnDrift = OnDrift.SKIP,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
    on_outcome: OutcomeSink | None = None,
    on_start: Callable[[ApplyReport], None] | None = None,
    on_verified: Callable[[int, int], None] | None = None,
) -> ApplyResult:
    """Verify and apply a loaded `plan` (`source` names it in messages; see the module docstring); never
    prints. `policies` are the repository's (never the plan's own copies). `ecrgc apply`, `apply --dry-run`,
    `plan --check` (a dry run that aborts on drift) and `ecrgc run` all come through here. `on_start` sees the
    report's header (no outcomes yet) before the first outcome, `on_outcome` each outcome as it is known,
    `on_verified(done, total)` each repository checked against the live registry (progress; any thread)."""
    check_target(plan, source, registry=registry, now=now)
    verifier = Verifier.prepare(plan, source, policies=policies, registry=registry, usage=usage, now=now)
    started = ApplyReport(
        plan_sha256=plan.sha256 or content_hash(plan),
        started_at=now,
        finished_at=None,
        dry_run=dry_run,
        outcomes=(),
    )
    if on_start is not None:
        on_start(started)
    sink = Sink(on_outcome)
    executor = Executor(guard=Guard(registry, plan), dry_run=dry_run, sink=sink)
    aborted = False
    verified = _Tally(len(verifier.names), on_verified)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ecrgc-apply") as pool:
        if on_drift is OnDrift.SKIP:
            # A repository's checks do not depend on another's, so each is applied as soon as it is
            # verified: the deletions of one overlap the scans of the next.
            found = pool.map(
                lambda name: _verified_run(verifier, executor, name, sink, verified), verifier.names
            )
        else:
            ordered = list(pool.map(lambda name: order(_check(verifier, name, verified)), verifier.names))
            aborted = any(o.status is OutcomeStatus.SKIPPED for b in ordered for o in b.settled)
            found = iter([_aborted(ordered, sink)]) if aborted else pool.map(executor.run, ordered)
        outcomes = [outcome for repository in found for outcome in repository]
    report = replace(
        started,
        finished_at=max(now, datetime.now(UTC)),
        outcomes=tuple(sorted(outcomes, key=_order_key(plan))),
    )
    return ApplyResult(plan=plan, report=report, aborted=aborted)


def check_target(plan: Plan, source: str, *, registry: Target, now: datetime) -> None:
    """Refuse a plan that has expired or was made for another account or region than `registry`'s."""
    if expired(plan.expires_at, now):
        raise PlanRefused(
            f"{source}: the plan expired at {format_timestamp(plan.expires_at)}; re-run ecrgc plan"
        )
    if plan.region != registry.region:
        raise PlanRefused(
            f"{source}: the plan is for region {plan.region} but the credentials in use are for region "
            f"{registry.region}; set AWS_REGION={plan.region}"
        )
    account = registry.caller_account()
    if plan.account != account:
        raise PlanRefused(
            f"{source}: the plan is for account {plan.account} but the credentials in use are for account "
            f"{account}; use that account's credentials"
        )


class _Tally:
    """Counts the repositories verified for `callback(done, total)`, from any worker."""

    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self._total, self._callback, self._done, self._lock = total, callback, 0, threading.Lock()

    def __call__(self) -> None:
        if self._callback is not None:
            with self._lock:
                self._done += 1
                self._callback(self._done, self._total)


def _check(verifier: Verifier, name: str, verified: _Tally) -> Verified:
    try:
        return verifier.check(name)
    finally:
        verified()


def _verified_run(
    verifier: Verifier, executor: Executor, name: str, sink: Sink, verified: _Tally
) -> list[Outcome]:
    """Verify and apply one repository; one that cannot be read is left alone and reported as failed
    (fail closed for its images) while the others, whose facts were read, go ahead."""
    try:
        checked = _check(verifier, name, verified)
    except EcrgcError as error:
        digests = [a.digest for a in verifier.planned[name]]
        digests += [""] if name in verifier.deletions else []
        failed = [
            Outcome(
                repository=name,
                digest=d,
                status=OutcomeStatus.FAILED,
                reason=OutcomeReason.UNREADABLE,
                code=type(error).__name__,
                detail=str(error),
            )
            for d in digests
        ]
        for outcome in failed:
            sink(outcome)
        return failed
    return executor.run(order(checked))


def _aborted(ordered: Sequence[Batches], sink: Sink) -> list[Outcome]:
    """`--on-drift=abort`: every drifted image says why; every other one says the apply was aborted."""
    drifted = sum(o.status is OutcomeStatus.SKIPPED for b in ordered for o in b.settled)
    note = f"--on-drift=abort: {drifted} planned images failed their preconditions; nothing was applied"
    outcomes: list[Outcome] = []
    for batches in ordered:
        outcomes += batches.settled
        outcomes += [skipped(step.action, OutcomeReason.ABORTED, note) for step in batches.steps]
        if batches.repository_refused is not None:
            outcomes.append(batches.repository_refused)
        if batches.delete_repository:
            outcomes.append(
                Outcome(
                    repository=batches.name,
                    digest="",
                    status=OutcomeStatus.SKIPPED,
                    reason=OutcomeReason.ABORTED,
                    detail=note,
                )
            )
    for outcome in outcomes:
        sink(outcome)
    return outcomes


def _order_key(plan: Plan) -> Callable[[Outcome], tuple[str, int, int]]:
    """Report order: the plan's order (repository, depth, digest); a repository's own outcome last."""
    rank = {(a.repository, a.digest): n for n, a in enumerate(plan.actions)}
    return lambda o: (o.repository, 1 if not o.digest else 0, rank.get((o.repository, o.digest), -1))
