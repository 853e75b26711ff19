"""Apply: execute exactly a reviewed plan — refused if stale, re-verified, resumable, reported.

Three phases, each over the planned repositories in a bounded thread pool:

1. Refuse the plan as a whole (nothing touched) when it is tampered, of another major format, expired, or
   for another account or region than the credentials in use (`check_target`).
2. Re-collect the live state — every planned repository in full, and the in-use sources its policies name
   — and check each action's preconditions with `verify` (one set of rules, two moments): `verification`.
3. Carry out what passed: by digest, parents before their children and referrers (a later call per level
   of the plan's parent chains), then the repository deletions the plan asks for, only if ECR finds the
   repository empty now.

The registry is changed only through `executor.Guard`, which refuses any digest or repository the plan does
not name: whatever verification filters, apply can never delete more than what was reviewed. An image
already gone counts as done, so re-applying a finished plan changes nothing, and re-applying an
interrupted one finishes the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from ecrgc.apply.executor import Executor, Guard, Mutator, OutcomeSink, Sink, unapplied
from ecrgc.apply.report import ApplyReport
from ecrgc.apply.verification import LiveState, Verifier
from ecrgc.errors import EcrgcError, PlanRefused
from ecrgc.model import Outcome, OutcomeStatus, Plan
from ecrgc.planfile import content_hash, format_timestamp
from ecrgc.usage import Collector
from ecrgc.verify import Check, Verdict

DEFAULT_WORKERS = 8
"""Repositories applied at once (the CLI sizes the registry's connection pool to match)."""

ABORTED = "aborted"
"""The skip reason of an image left alone because `--on-drift=abort` found drift elsewhere."""


class OnDrift(StrEnum):
    """What to do when some action's preconditions no longer hold."""

    SKIP = "skip"
    """Apply the rest; report each drifted image as skipped, with why."""
    ABORT = "abort"
    """Apply nothing at all."""


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
        return tuple(o for o in self.conflicts if o.reason != ABORTED)


def apply_plan(
    plan: Plan,
    *,
    source: str,
    registry: Target,
    usage: Collector,
    now: datetime,
    on_drift: OnDrift = OnDrift.SKIP,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
    on_outcome: OutcomeSink | None = None,
) -> ApplyResult:
    """Verify and apply a loaded `plan` (`source` names it in messages; see the module docstring); never
    prints. `ecrgc apply`, `ecrgc apply --dry-run`, `ecrgc plan --check` (dry run, abort on drift) and
    `ecrgc run` all come through here."""
    check_target(plan, source, registry=registry, now=now)
    verifier = Verifier.prepare(plan, source, registry=registry, usage=usage, now=now)
    sink = Sink(on_outcome)
    executor = Executor(guard=Guard(registry, plan), plan=plan, dry_run=dry_run, sink=sink)
    aborted = False
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ecrgc-apply") as pool:
        if on_drift is OnDrift.SKIP:
            # A repository's checks do not depend on another's, so each is applied as soon as it is
            # verified: the deletions of one overlap the scans of the next.
            found = pool.map(lambda name: _verified_run(verifier, executor, name, sink), verifier.names)
        else:
            checks = dict(pool.map(verifier.check, verifier.names))
            aborted = any(c.conflict for found in checks.values() for c in found)
            found = (
                iter([_aborted(plan, checks, sink)]) if aborted else pool.map(executor.run, checks.items())
            )
        outcomes = [outcome for repository in found for outcome in repository]
    report = ApplyReport(
        plan_sha256=content_hash(plan),
        started_at=now,
        finished_at=max(now, datetime.now(UTC)),
        dry_run=dry_run,
        outcomes=tuple(sorted(outcomes, key=_order_key(plan))),
    )
    return ApplyResult(plan=plan, report=report, aborted=aborted)


def check_target(plan: Plan, source: str, *, registry: Target, now: datetime) -> None:
    """Refuse a plan that has expired or was made for another account or region than `registry`'s."""
    if plan.expires_at < now:
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


def _verified_run(verifier: Verifier, executor: Executor, name: str, sink: Sink) -> list[Outcome]:
    """Verify and apply one repository; one that cannot be read is left alone and reported as failed
    (fail closed for its images) while the others, whose facts were read, go ahead."""
    try:
        checked = verifier.check(name)
    except EcrgcError as error:
        digests = [a.digest for a in verifier.planned[name]]
        digests += [""] if name in verifier.deletions else []
        reason = type(error).__name__
        failed = [
            Outcome(repository=name, digest=d, status=OutcomeStatus.FAILED, reason=reason, detail=str(error))
            for d in digests
        ]
        for outcome in failed:
            sink(outcome)
        return failed
    return executor.run(checked)


def _aborted(plan: Plan, checks: Mapping[str, tuple[Check, ...]], sink: Sink) -> list[Outcome]:
    """`--on-drift=abort`: every drifted image says why; every other one says the apply was aborted."""
    every = [check for found in checks.values() for check in found]
    drifted = sum(check.conflict for check in every)
    note = f"--on-drift=abort: {drifted} planned images failed their preconditions; nothing was applied"
    outcomes = [
        unapplied(check)
        if check.conflict or check.verdict is Verdict.GONE
        else _aborted_outcome(check.action.repository, check.action.digest, note)
        for check in every
    ]
    outcomes += [_aborted_outcome(name, "", note) for name in plan.repository_deletions]
    for outcome in outcomes:
        sink(outcome)
    return outcomes


def _aborted_outcome(repository: str, digest: str, note: str) -> Outcome:
    return Outcome(
        repository=repository, digest=digest, status=OutcomeStatus.SKIPPED, reason=ABORTED, detail=note
    )


def _order_key(plan: Plan) -> Callable[[Outcome], tuple[str, int, int]]:
    """Report order: the plan's order (repository, depth, digest); a repository's own outcome last."""
    rank = {(a.repository, a.digest): n for n, a in enumerate(plan.actions)}
    return lambda o: (o.repository, 1 if not o.digest else 0, rank.get((o.repository, o.digest), -1))
