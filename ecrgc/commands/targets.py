"""`ecrgc targets` and `ecrgc plan --target/--all-targets`: targets.yaml with its policies bound, and one
plan per target, each target isolated from the others' failures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from ecrgc.commands import plans as plans_command
from ecrgc.commands.plan import Inventory, run_plan
from ecrgc.errors import ConfigError, EcrgcError, PlanRefused, UsageError
from ecrgc.model import Plan, Policy
from ecrgc.policy import load_policies
from ecrgc.replication import Registries, ReplicationReader, with_replication
from ecrgc.targets import Target, Targets, bind, load_targets
from ecrgc.usage import Collector

TARGET_WORKERS = 4
"""Targets planned at once; each scans with its own registry client (16 repositories at a time)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BoundTarget:
    """One target and the repository's policies bound to its account and region."""

    target: Target
    policies: tuple[Policy, ...]


def run_targets(targets: Path, policies: Sequence[Path]) -> list[BoundTarget]:
    """Every target of `targets`, in file order, with its policies; one `ConfigError` lists every problem."""
    loaded = load_targets(targets)
    bound = bind(loaded, load_policies(policies))
    return [BoundTarget(target=t, policies=bound[t.name]) for t in loaded.targets]


class TargetRegistry(Inventory, ReplicationReader, Protocol):
    """What planning a target needs from its registry (implemented by `ecrgc.aws.Registry`)."""


def registries(bound: Sequence[BoundTarget]) -> Registries:
    """(account, region) → target name: how a plan names the replicas that are targets too."""
    return {(b.target.account, b.target.region): b.target.name for b in bound}


def target_at(bound: Sequence[BoundTarget], index: int, completions: int | None, source: Path) -> Target:
    """The target at `index` in file order: a Kubernetes indexed Job's pod JOB_COMPLETION_INDEX. With
    `completions` (the Job's), it must be the number of targets, so that no target goes unplanned."""
    names = ", ".join(f"{i}={b.target.name}" for i, b in enumerate(bound))
    if completions is not None and completions != len(bound):
        raise UsageError(
            f"--completions {completions}: {source} has {len(bound)} targets ({names}): set the Job's"
            f" spec.completions to {len(bound)}"
        )
    if not 0 <= index < len(bound):
        raise UsageError(
            f"--index {index}: {source} has {len(bound)} targets ({names}), indexes 0 to {len(bound) - 1}"
        )
    return bound[index].target


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetPlan:
    """One target's plan, or why it has none (one line each: a user error's message and its lines)."""

    target: Target
    plan: Plan | None = None
    errors: tuple[str, ...] = ()


def run_target_plans(
    bound: Sequence[BoundTarget],
    *,
    connect: Callable[[Target], TargetRegistry],
    usage: Collector,
    now: datetime,
    expires_in: timedelta,
    targets: Registries,
) -> list[TargetPlan]:
    """Plan every target of `bound` concurrently, each isolated: a target that fails (a role that cannot
    be assumed, an unreadable source, credentials for another account, deletions that could replicate)
    has errors and no plan; the others plan on. Each plan notes its registry's replication, naming the
    replicas that are `targets` too (every target of targets.yaml, not only those planned now)."""

    def one(entry: BoundTarget) -> TargetPlan:
        try:
            inventory = connect(entry.target)
            plan = run_plan(entry.policies, inventory=inventory, usage=usage, now=now, expires_in=expires_in)
            plan = with_replication(plan, inventory.replication(), targets)
        except ConfigError as error:
            return TargetPlan(target=entry.target, errors=(str(error), *error.errors))
        except EcrgcError as error:
            return TargetPlan(target=entry.target, errors=(str(error),))
        return TargetPlan(target=entry.target, plan=plan)

    with ThreadPoolExecutor(max_workers=TARGET_WORKERS, thread_name_prefix="ecrgc-target") as pool:
        return list(pool.map(one, bound))


def plan_path(directory: Path, target: Target, plan: Plan) -> Path:
    """`plans/<target>/<created_at>.json`: one directory per target, files ordered by time."""
    return directory / target.name / f"{plan.created_at.strftime('%Y%m%dT%H%M%SZ')}.json"


def run_target_list(directory: Path, targets: Targets, name: str) -> list[plans_command.PlanFile]:
    """`plans list --target NAME`: the plans in `directory/NAME` (none yet: no directory), oldest first;
    refuses a plan there that binds to another registry, which the target's apply role must never get."""
    target = next((t for t in targets.targets if t.name == name), None)
    if target is None:
        known = ", ".join(t.name for t in targets.targets)
        raise UsageError(f"--target {name}: {targets.source} has no such target (it has {known})")
    if not (directory / name).exists():
        return []
    entries = plans_command.run_list(directory / name)
    for entry in entries:
        if (entry.account, entry.region) != (target.account, target.region):
            raise PlanRefused(
                f"{entry.path}: the plan binds to {entry.account}/{entry.region}, not to target {name}"
                f" ({target.account}/{target.region}): move it to its target's directory or delete it"
            )
    return entries
