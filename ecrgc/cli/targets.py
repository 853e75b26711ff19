"""`ecrgc targets` (the registries targets.yaml names, as text or as the CI matrix) and `ecrgc plan
--target/--all-targets` (one plan per target)."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, assert_never

import typer

from ecrgc.cli.shared import Format, echo_saved, echo_view, render_plan
from ecrgc.errors import PlanRefused, UsageError

if TYPE_CHECKING:
    from ecrgc.aws import Registry
    from ecrgc.aws.client import Credentials
    from ecrgc.commands.targets import BoundTarget
    from ecrgc.model import Plan
    from ecrgc.targets import Target

TargetsFile = Annotated[
    Path, typer.Option("--targets", help="The targets file (default: targets.yaml beside policies/).")
]


def targets(
    output: Annotated[Format, typer.Option("--format", help="text, or json: the CI matrix.")] = Format.TEXT,
    targets_file: TargetsFile = Path("targets.yaml"),  # ecrgc.targets.DEFAULT_TARGETS, not imported to start
    policies: Annotated[
        list[Path] | None, typer.Option("--policies", help="The policies (default: policies/).")
    ] = None,
    index: Annotated[
        int | None,
        typer.Option(
            "--index", min=0, help="Print the name of the target at this index (JOB_COMPLETION_INDEX)."
        ),
    ] = None,
    completions: Annotated[
        int | None,
        typer.Option(
            "--completions", min=1, help="With --index: the indexed Job's completions, one per target."
        ),
    ] = None,
) -> None:
    """List the targets and their policies; `--format json` prints the GitHub Actions matrix; `--index N`
    names the target a Kubernetes indexed Job's pod N plans."""
    from ecrgc.cli.policy import policy_paths
    from ecrgc.commands.targets import run_targets, target_at

    bound = run_targets(targets_file, policy_paths(policies))
    if index is not None:
        typer.echo(target_at(bound, index, completions, targets_file).name)
        return
    match output:
        case Format.JSON:
            rows = [
                {"target": b.target.name, "account": b.target.account, "region": b.target.region}
                for b in bound
            ]
            typer.echo(json.dumps({"include": rows}, separators=(",", ":")))
        case Format.TEXT | Format.MARKDOWN:
            width = max(len(b.target.name) for b in bound) + 2
            regions = max(len(b.target.region) for b in bound) + 2
            for b in bound:
                names = ", ".join(sorted(p.name for p in b.policies))
                typer.echo(f"{b.target.name:<{width}}{b.target.account} {b.target.region:<{regions}}{names}")
        case _:
            assert_never(output)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOptions:
    """The `ecrgc plan` options that matter to a target's plan."""

    out: Path | None
    out_dir: Path | None
    output: Format
    expires_in: str
    profile: str | None


def plan_targets(
    paths: list[Path] | None,
    name: str | None,
    options: PlanOptions,
    *,
    kubeconfig: str | None,
    detailed_exitcode: bool,
) -> None:
    """`plan --target NAME` (a what-if, or saved with --out/--out-dir) and `plan --all-targets --out-dir`:
    every target isolated, each failure one line naming it, exit 1 when any failed."""
    from ecrgc.cli.policy import policy_paths
    from ecrgc.commands.targets import plan_path, registries, run_target_plans, run_targets
    from ecrgc.planfile import write_plan_file
    from ecrgc.policy import duration_option
    from ecrgc.targets import DEFAULT_TARGETS
    from ecrgc.usage import collector

    _check_options(name, options)
    expiry = duration_option(options.expires_in, "--expires-in")  # a bad option fails before any AWS call
    bound = run_targets(DEFAULT_TARGETS, policy_paths(paths))  # the one apply and plan --check read
    if name is not None:
        chosen = [b for b in bound if b.target.name == name] or [_unknown(DEFAULT_TARGETS, name, bound)]
    else:
        chosen = bound
    results = run_target_plans(
        chosen,
        connect=lambda target: _registry(target, options.profile),
        usage=collector(kubeconfig=kubeconfig),
        now=datetime.now(UTC),
        expires_in=expiry,
        targets=registries(bound),
    )
    for result in results:
        if result.plan is None:
            where = f"{result.target.account}/{result.target.region}"
            typer.echo(f"ecrgc: target {result.target.name} ({where}) failed: {result.errors[0]}", err=True)
            for line in result.errors[1:]:
                typer.echo(f"  {line}", err=True)
            continue
        path = options.out or (
            plan_path(options.out_dir, result.target, result.plan) if options.out_dir else None
        )
        sha256 = write_plan_file(result.plan, path) if path is not None else None
        if name is not None:
            echo_view(render_plan(result.plan, options.output, sha256=sha256), options.output)
        else:
            count = len(result.plan.actions)
            typer.echo(f"{result.target.name}: {count} image{'' if count == 1 else 's'} planned, {path}")
        if path is not None:
            echo_saved(path, f"{result.target.name}'s plan")
    if any(result.plan is None for result in results):
        raise typer.Exit(1)
    if detailed_exitcode and any(result.plan and result.plan.actions for result in results):
        raise typer.Exit(2)


def _check_options(name: str | None, options: PlanOptions) -> None:
    if name is None and options.out_dir is None:
        raise UsageError("--all-targets writes one plan per target: pass --out-dir plans/")
    if name is None and options.out is not None:
        raise UsageError("--all-targets writes one plan per target: pass --out-dir, not --out")
    if options.out is not None and options.out_dir is not None:
        raise UsageError("--out and --out-dir: pass one of them")


def _unknown(targets_file: Path, name: str, bound: "list[BoundTarget]") -> "BoundTarget":
    known = ", ".join(b.target.name for b in bound)
    raise UsageError(f"--target {name}: {targets_file} has no such target (it has {known})")


def _registry(target: "Target", profile: str | None) -> "Registry":
    """The target's registry, through its planRoleArn when it has one, else the ambient credentials."""
    from ecrgc.aws import Registry
    from ecrgc.aws.accounts import role_credentials

    role = target.plan_role_arn
    credentials = role_credentials(target.region, role) if role else None
    return Registry(target.region, registry_id=target.account, profile=profile, credentials=credentials)


class RoleKind(Enum):
    """Which of a target's roles a verb assumes: apply deletes, plan --check only reads."""

    PLAN = "planRoleArn"
    APPLY = "applyRoleArn"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanTarget:
    """The target a plan binds to, and the credentials of the role the verb assumes (None: ambient)."""

    target: "Target"
    credentials: "Credentials | None"


def plan_target(plan: "Plan", source: Path, name: str | None, *, role: RoleKind) -> PlanTarget | None:
    """The target of targets.yaml with the plan's account and region (`--target NAME` must name that one:
    else refused, exit 3) and its role's credentials; None without targets.yaml, or for a plan of no target.
    The policies come from `repository_policies`, which binds them to the same targets.yaml."""
    from ecrgc.aws.accounts import role_credentials
    from ecrgc.targets import DEFAULT_TARGETS, load_targets

    if name is None and not DEFAULT_TARGETS.is_file():
        return None
    targets = load_targets(DEFAULT_TARGETS).targets
    mine = next((t for t in targets if (t.account, t.region) == (plan.account, plan.region)), None)
    if name is not None:
        named = next((t for t in targets if t.name == name), None)
        if named is None:
            known = ", ".join(t.name for t in targets)
            raise UsageError(f"--target {name}: {DEFAULT_TARGETS} has no such target (it has {known})")
        if named is not mine:
            raise PlanRefused(
                f"{source}: the plan binds to {plan.account}/{plan.region}, not to target {name}"
                f" ({named.account}/{named.region}); apply it with its own target"
            )
    if mine is None:
        return None
    arn = mine.apply_role_arn if role is RoleKind.APPLY else mine.plan_role_arn
    return PlanTarget(target=mine, credentials=role_credentials(plan.region, arn) if arn else None)
