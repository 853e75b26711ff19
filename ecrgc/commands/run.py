"""`ecrgc run`: the seed's one-shot mode — its variables → a policy → plan → confirm → apply, in one go.

For teams not on GitOps yet. The plan is still a real plan file (written to the log directory, the audit
trail) and apply still re-verifies every image against the live registry before deleting it, exactly as
`ecrgc apply` does; only the review step is a prompt instead of a pull request.

The seed's switches: DRYRUN plans and verifies but deletes nothing; LIST_ONLY stops after the plan;
AUTO_CONFIRM skips the prompt; PROTECT_INUSE_BY_K8S=true first refreshes `IMG_LIST/<ENV>_IMG_LIST.txt`
from the current kube context (what the seed's `list_img.sh` did), then protects the union of every
`IMG_LIST/*_IMG_LIST.txt` and the current context; false protects nothing in use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from ecrgc import apply as apply_command
from ecrgc import imagelists, kube
from ecrgc.apply.executor import OutcomeSink
from ecrgc.commands import plan as plan_command
from ecrgc.envfile import RunOptions, SeedEnv, policy_from_env
from ecrgc.errors import PlanRefused
from ecrgc.model import CURRENT_CONTEXT, KubeContext, Plan, Usage
from ecrgc.planfile import write_plan_file
from ecrgc.usage import collector


class RunRegistry(plan_command.Inventory, apply_command.Target, Protocol):
    """What `run` needs: planning's inventory and apply's target (both `ecrgc.aws.Registry`)."""


Confirm = Callable[[Plan], bool]
"""Asked before deleting (unless AUTO_CONFIRM or DRYRUN); False leaves everything as it is."""

KubeReader = Callable[[Sequence[KubeContext]], Usage]
"""Reads the images in use in kube contexts (`kube.collect` with the kubeconfig bound)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """The plan `run` made (and saved at `plan_path`) and what applying it did (None with LIST_ONLY)."""

    plan: Plan
    plan_path: Path
    applied: apply_command.ApplyResult | None
    image_list: Path | None = None
    """The IMG_LIST file refreshed from the current kube context (PROTECT_INUSE_BY_K8S=true)."""


def image_list_path(env: SeedEnv, base: Path) -> Path:
    """`IMG_LIST/<ENV>_IMG_LIST.txt` under `base`: the list the seed refreshed for its environment."""
    return base / "IMG_LIST" / f"{env.get('ENV').strip()}_IMG_LIST.txt"


def refresh_image_list(env: SeedEnv, base: Path, read: KubeReader) -> Path:
    """Write the images the current kube context uses to this environment's IMG_LIST file."""
    target = image_list_path(env, base)
    target.parent.mkdir(parents=True, exist_ok=True)
    imagelists.write_image_list(read([KubeContext(name=CURRENT_CONTEXT)]).uses, target)
    return target


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
) -> RunResult:
    """Plan the seed's policy against the live registry, save the plan, then confirm and apply it.

    `connect(region)` builds the registry for the region the seed's AWS_REGION names; `on_plan` sees the
    plan as soon as it is made.
    """
    policy = policy_from_env(env)
    registry = connect(policy.region)
    image_list = None
    if policy.protect.kubernetes:
        image_list = refresh_image_list(env, base, partial(kube.collect, kubeconfig=kubeconfig))
    usage = collector(base=base, kubeconfig=kubeconfig)
    plan = plan_command.run_plan([policy], inventory=registry, usage=usage, now=now)
    write_plan_file(plan, plan_path)
    if on_plan is not None:
        on_plan(plan)  # shown before the question, so the user sees what they confirm
    if options.list_only:
        return RunResult(plan=plan, plan_path=plan_path, applied=None, image_list=image_list)
    if plan.actions and not (options.dry_run or options.auto_confirm or confirm(plan)):
        raise PlanRefused(f"{plan_path}: not confirmed; nothing was deleted")
    applied = apply_command.apply_plan(
        plan,
        source=str(plan_path),
        registry=registry,
        usage=usage,
        now=now,
        dry_run=options.dry_run,
        workers=workers,
        on_outcome=on_outcome,
    )
    return RunResult(plan=plan, plan_path=plan_path, applied=applied, image_list=image_list)
