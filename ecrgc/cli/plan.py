"""`ecrgc plan` (and `plan --check`) and `ecrgc show`: a plan made, re-verified or rendered.

No `from __future__ import annotations`: typer reads the commands' annotations (see `ecrgc.cli`).
"""

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ecrgc.cli.shared import (
    Format,
    Profile,
    echo_saved,
    echo_view,
    progress_display,
    render_plan,
    render_report,
)
from ecrgc.errors import PlanRefused, UsageError
from ecrgc.start import starting

if TYPE_CHECKING:
    from ecrgc.cli.progress import ProgressDisplay
    from ecrgc.commands.plan import PlanProgress


def _plan_progress(display: "ProgressDisplay") -> "Callable[[PlanProgress], None]":
    """`run_plan`'s progress port, shown on `display`."""
    from ecrgc.commands.plan import PlanPhase
    from ecrgc.render.markup import plural

    phases = {
        PlanPhase.USAGE: "reading what is in use",
        PlanPhase.SCAN: "scanning and deciding",
        PlanPhase.ASSEMBLE: "assembling the plan",
    }

    def tell(progress: "PlanProgress") -> None:
        order = list(phases)
        for earlier in order[: order.index(progress.phase)]:  # the phases come in order
            display.end(phases[earlier])
        if progress.phase is PlanPhase.SCAN:
            display.update(
                phases[progress.phase],
                progress.repositories,
                progress.total,
                unit="repositories",
                note=plural(progress.images, "image"),
            )
        else:
            images = plural(progress.images, "image") if progress.phase is PlanPhase.ASSEMBLE else ""
            display.update(phases[progress.phase], note=images)

    return tell


def plan(
    paths: Annotated[list[Path] | None, typer.Argument(help="Policy files or directories.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the plan file here (else: what-if); a name ending in .gz (plan.json.gz) writes it"
            " gzip-compressed in a compact columns layout, for plans too large for a pull request's diff.",
        ),
    ] = None,
    expires_in: Annotated[str, typer.Option("--expires-in", help="How long the plan may be applied.")] = "7d",
    output: Annotated[Format, typer.Option("--format", help="How to print the summary.")] = Format.TEXT,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0: nothing to delete, 2: deletions planned.")
    ] = False,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", envvar="ECRGC_KUBECONFIG")] = None,
    policy_set: Annotated[
        Path | None,
        typer.Option(
            "--policies",
            help="With --check: the repository's policies (default: the PATHS, else policies/).",
        ),
    ] = None,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            metavar="PLAN",
            help="Re-verify a committed plan against live state now, as apply would; delete nothing.",
        ),
    ] = None,
    profile: Profile = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Plan only the policies for this region (a plan binds to one); default: their one region.",
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Plan this target of targets.yaml (its bound policies).")
    ] = None,
    all_targets: Annotated[
        bool, typer.Option("--all-targets", help="Plan every target concurrently (needs --out-dir).")
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", help="With --target/--all-targets: write DIR/<target>/<stamp>.json."),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            envvar="ECRGC_PROCESSES",
            min=0,
            help="Scan, decide and encode the repositories in this many processes (0, the default: one per"
            " CPU this process may use and at most one per 500 repositories, so 1 below 1,000; 1: in this"
            " process alone). A target's plan (--target, --all-targets) is made in one process.",
        ),
    ] = 0,
) -> None:
    """Plan what to delete from the live registry and the images in use; print it, and save it with --out."""
    if check is not None:
        paths = [policy_set] if policy_set else paths or []
        _check_plan(check, paths, kubeconfig=kubeconfig, profile=profile, target=target)
        return
    if target is not None or all_targets or out_dir is not None:
        from ecrgc.cli.targets import PlanOptions, plan_targets

        if region is not None:
            raise UsageError(
                f"--region {region}: a target names its own region in targets.yaml; leave --region out"
            )
        options = PlanOptions(out=out, out_dir=out_dir, output=output, expires_in=expires_in, profile=profile)
        plan_targets(paths, target, options, kubeconfig=kubeconfig, detailed_exitcode=detailed_exitcode)
        return
    with starting():
        from ecrgc.aws import Registry
        from ecrgc.cli.policy import policy_paths
        from ecrgc.commands import plan as plan_command
        from ecrgc.planfile import is_compressed, write_plan_file
        from ecrgc.policy import duration_option, load_policies
        from ecrgc.replication import with_replication
        from ecrgc.usage import collector

        expiry = duration_option(expires_in, "--expires-in")  # a bad option fails before any AWS call
        policies = plan_command.for_region(load_policies(policy_paths(paths)), region)
        region = plan_command.target_region(policies)
        registry = Registry(region, registry_id=policies[0].registry_id, profile=profile)
    with progress_display() as display:
        made = plan_command.run_plan(
            policies,
            inventory=registry,
            usage=collector(kubeconfig=kubeconfig),
            now=datetime.now(UTC),
            expires_in=expiry,
            progress=_plan_progress(display),
            columns=out is not None and is_compressed(out),  # encoded as decided, in the file's layout
            processes=processes or None,  # 0: ecrgc chooses
        )
        made = with_replication(made, registry.replication(), {})  # no targets.yaml: no replica is a target
        display.end_all()
        if out is not None:
            display.update("writing the plan file", note=str(out))
        sha256 = write_plan_file(made, out) if out is not None else None
    echo_view(render_plan(made, output, sha256=sha256), output)
    if out is not None:
        echo_saved(out, "the plan")
    if detailed_exitcode and made.actions:
        raise typer.Exit(2)


def _check_plan(
    path: Path,
    policies: list[Path],
    *,
    kubeconfig: str | None,
    profile: str | None,
    target: str | None,
) -> None:
    """`plan --check`: exit 0 when every action would pass apply's preconditions now, else refuse; a
    target's plan is checked with its bound policies, through its planRoleArn."""
    from ecrgc import apply as apply_command
    from ecrgc import render
    from ecrgc.apply.verification import repository_policies
    from ecrgc.aws import Registry
    from ecrgc.cli.console import text_width
    from ecrgc.cli.targets import RoleKind, plan_target
    from ecrgc.model import OnDrift
    from ecrgc.planfile import load_plan_file
    from ecrgc.usage import collector

    loaded = load_plan_file(path)
    bound = plan_target(loaded, path, target, role=RoleKind.PLAN)  # its planRoleArn
    trusted = repository_policies(policies)
    credentials = bound.credentials if bound else None
    # The plan is loaded (and its hash and schema checked) once: a large plan takes seconds to load.
    result = apply_command.apply_plan(
        loaded,
        source=str(path),
        policies=trusted,
        registry=Registry(loaded.region, profile=profile, credentials=credentials),
        usage=collector(kubeconfig=kubeconfig),
        now=datetime.now(UTC),
        on_drift=OnDrift.ABORT,
        dry_run=True,
    )
    echo_view(render.report_text(result.report, width=text_width(sys.stdout), details=True), Format.TEXT)
    drifted = result.drifted
    if drifted:
        reasons = ", ".join(sorted({render.outcome_reason(o) for o in drifted}))
        raise PlanRefused(
            f"{path}: {len(drifted)} planned images would not pass apply's checks now: {reasons};"
            " re-run ecrgc plan and commit the new plan"
        )


def show(
    path: Annotated[Path, typer.Argument(help="A plan file (.json) or an apply report (.jsonl).")],
    output: Annotated[Format, typer.Option("--format")] = Format.TEXT,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1_000,
            help="A plan's Markdown: the most characters (default 60,000, a PR comment's; 1000000 for a "
            "job summary, which shows every list).",
        ),
    ] = None,
    policy_set: Annotated[
        Path | None,
        typer.Option(
            "--policies",
            help="A plan: say whether each embedded policy is the repository's (default: policies/ if any).",
        ),
    ] = None,
    images: Annotated[
        bool,
        typer.Option(
            "--images",
            help="A plan: every image, one line each (by repository, then push time), with its action and"
            " why (text or json; one image: ecrgc explain PLAN REF).",
        ),
    ] = False,
) -> None:
    """Render a plan file or an apply report as text, Markdown (PR comments) or JSON."""
    from ecrgc.apply.report import load_report_file
    from ecrgc.apply.verification import policy_matches, repository_policies
    from ecrgc.planfile import load_plan_file
    from ecrgc.policy import DEFAULT_POLICIES

    if path.suffix == ".jsonl":
        echo_view(render_report(load_report_file(path), output), output)
        return
    if images:
        from ecrgc.cli.explain import show_images

        show_images(path, output)
        return
    plan = load_plan_file(path)
    matches = None
    if policy_set is not None or DEFAULT_POLICIES.is_dir():
        matches = policy_matches(plan, repository_policies([policy_set] if policy_set else []))
    echo_view(render_plan(plan, output, limit=limit, matches=matches), output)
