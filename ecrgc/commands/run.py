"""`ecrgc run`: the seed's one-shot mode — its variables → a policy → plan → confirm → apply, in one go.

For teams not on GitOps yet. The plan is still a real plan file (written to the log directory, the audit
trail) and apply still re-verifies every image against the live registry before deleting it, exactly as
`ecrgc apply` does; only the review step is a prompt instead of a pull request.

The seed's switches: DRYRUN plans and verifies but deletes nothing; LIST_ONLY stops after the plan;
AUTO_CONFIRM skips the prompt. PROTECT_INUSE_BY_K8S=true protects what the seed protected: this ENV's list
(`IMG_LIST/PRE_IMG_LIST.txt` for ENV=pre) when it holds a reference, and otherwise the current kube
context, whose images are then written to that list (`cleaner.Run`: the cluster is read only when the
file is missing or empty). A list that is used is never rewritten, and the cluster is not read then; a
cluster that cannot be read stops the run. PROTECT_INUSE_BY_K8S=false protects nothing in use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ecrgc import apply as apply_command
from ecrgc import imagelists
from ecrgc.apply.executor import OutcomeSink
from ecrgc.apply.report import ApplyReport
from ecrgc.commands import plan as plan_command
from ecrgc.envfile import RunOptions, SeedEnv, policy_from_env, seed_image_list
from ecrgc.errors import PlanRefused
from ecrgc.model import Decision, Plan, Policy, Reason, Usage
from ecrgc.planfile import write_plan_file
from ecrgc.replication import ReplicationReader, with_replication
from ecrgc.usage import Collector, collector


class RunRegistry(plan_command.Inventory, apply_command.Target, ReplicationReader, Protocol):
    """What `run` needs: planning's inventory and apply's target (both `ecrgc.aws.Registry`)."""


Confirm = Callable[[Plan], bool]
"""Asked before deleting (unless AUTO_CONFIRM or DRYRUN); False leaves everything as it is."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """The plan `run` made (and saved at `plan_path`) and what applying it did (None with LIST_ONLY)."""

    plan: Plan
    plan_path: Path
    applied: apply_command.ApplyResult | None
    image_list: Path | None = None
    """This ENV's list (PROTECT_INUSE_BY_K8S=true): read, or written from the cluster (`list_written`)."""
    list_written: bool = False
    kept_beyond_newest: int = 0
    """Images in use beyond the newest PROTECT_LATEST in use: kept, where the seed deleted them."""


def run_once(
    env: SeedEnv,
    options: RunOptions,
    *,
    connect: Callable[[str], RunRegistry],
    base: Path,
    plan_path: Path,
    now: datetime,
    confirm: Confirm,
    kubeconfig: str | None = None,
    workers: int = apply_command.DEFAULT_WORKERS,
    on_plan: Callable[[Plan], None] | None = None,
    on_outcome: OutcomeSink | None = None,
    on_decided: Callable[[Policy, Sequence[Decision]], None] | None = None,
    on_start: Callable[[ApplyReport], None] | None = None,
) -> RunResult:
    """Plan the seed's policy against the live registry, save the plan, then confirm and apply it.

    `connect(region)` builds the registry for the region the seed's AWS_REGION names; `on_plan` sees the
    plan as soon as it is made, `on_decided` each repository's decisions.
    """
    policy = policy_from_env(env, directory=base)
    registry = connect(plan_command.target_region([policy]))
    usage = collector(kubeconfig=kubeconfig)
    plan_usage, written = usage, False
    image_list = base / seed_image_list(env) if policy.protect.image_lists else None
    if image_list is not None and imagelists.has_references(image_list):
        policy = policy_from_env(env, "list", directory=base)
    elif image_list is not None:
        policy = policy_from_env(env, "cluster", directory=base)
        plan_usage, written = _exporting(usage, image_list, registry), True
    beyond = _BeyondNewest(on_decided)
    plan = plan_command.run_plan([policy], inventory=registry, usage=plan_usage, now=now, on_decided=beyond)
    plan = with_replication(plan, registry.replication(), {})  # a seed plans no targets
    write_plan_file(plan, plan_path)
    result = RunResult(
        plan=plan,
        plan_path=plan_path,
        applied=None,
        image_list=image_list,
        list_written=written,
        kept_beyond_newest=beyond.count,
    )
    if on_plan is not None:
        on_plan(plan)  # shown before the question, so the user sees what they confirm
    if options.list_only:
        return result
    if plan.actions and not (options.dry_run or options.auto_confirm or confirm(plan)):
        raise PlanRefused(f"{plan_path}: not confirmed; nothing was deleted")
    applied = apply_command.apply_plan(
        plan,
        source=str(plan_path),
        policies=[policy],
        registry=registry,
        usage=usage,  # apply re-reads what the plan read; the list written above is not read back
        now=now,
        dry_run=options.dry_run,
        workers=workers,
        on_outcome=on_outcome,
        on_start=on_start,
    )
    return replace(result, applied=applied)


def _exporting(collect: Collector, path: Path, registry: RunRegistry) -> Collector:
    """`collect`, writing what it read to `path` as the seed did (its `k8s.FetchInUseImages`)."""
    account = registry.caller_account()

    def collect_and_write(policies: Sequence[Policy]) -> Usage:
        usage = collect(policies)
        path.parent.mkdir(parents=True, exist_ok=True)
        imagelists.write_image_list(usage.uses, path, registry=(account, registry.region))
        return usage

    return collect_and_write


class _BeyondNewest:
    """Counts the images the seed's PROTECT_LATEST deleted and ecrgc keeps (`ecr.FilterImagesForDeletion`
    kept only the N newest of the tagged, unheld images in use), passing the decisions on."""

    def __init__(self, then: Callable[[Policy, Sequence[Decision]], None] | None) -> None:
        self.count = 0
        self._then = then

    def __call__(self, policy: Policy, decisions: Sequence[Decision]) -> None:
        in_use = [
            d
            for d in decisions
            if d.reason is Reason.IN_USE
            and d.image.tags
            and not any(p.tags_holding(d.image.tags) for p in policy.hold_tags)
        ]
        self.count += max(0, len(in_use) - policy.keep_latest)
        if self._then is not None:
            self._then(policy, decisions)
