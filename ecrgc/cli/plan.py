"""`ecrgc plan` (and `plan --check`) and `ecrgc show`: a plan made, re-verified or rendered."""

from __future__ import annotations

import logging
import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, assert_never

import typer

from ecrgc.errors import PlanRefused, UsageError

if TYPE_CHECKING:
    from ecrgc.apply.report import ApplyReport
    from ecrgc.cli.progress import ProgressDisplay
    from ecrgc.commands.plan import PlanProgress
    from ecrgc.model import Plan, PolicyMatch

log = logging.getLogger("ecrgc")

# The AWS options of every command that talks to AWS (plan, plan --check, apply, run).
Profile = Annotated[
    str | None,
    typer.Option("--profile", envvar="AWS_PROFILE", help="The named AWS profile to use (AWS_PROFILE)."),
]


class Format(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


def echo_view(text: str, output: Format) -> None:
    """Print a rendering to stdout: text in colour on a terminal, Markdown and JSON as they are."""
    from ecrgc.cli.console import echo_text

    if output is Format.TEXT:
        echo_text(text, os.environ)
    else:
        typer.echo(text, nl=False)


PULL_REQUEST_WARNING_BYTES = 50_000_000
"""GitHub warns about a file over 50 MB pushed in a pull request (and refuses one over 100 MB)."""


def echo_saved(path: Path, whose: str) -> None:
    """Where a plan went (`whose`: "the plan", "NAME's plan") and how to apply it, on stderr; a warning
    when the file is too big for a pull request."""
    typer.echo(f"Saved {whose} to {path}. To apply it: ecrgc apply {shlex.quote(str(path))}", err=True)
    size = path.stat().st_size
    if size > PULL_REQUEST_WARNING_BYTES:
        from ecrgc.planfile import is_compressed

        fix = (
            "the plan is compressed already: narrow the policies' repositories to plan fewer images at once"
            if is_compressed(path)
            else "write it compressed, about 7 times smaller (plan --out NAME.json.gz)"
        )
        typer.echo(
            f"warning: {path} is {size / 1e6:.1f} MB: GitHub warns about a file over 50 MB in a pull request"
            f" and refuses one over 100 MB; {fix}",
            err=True,
        )


def _render_plan(
    plan: Plan,
    output: Format,
    *,
    sha256: str | None = None,
    limit: int | None = None,
    matches: Mapping[str, PolicyMatch] | None = None,
) -> str:
    """`sha256`: the plan's content hash when the caller has it (hashing a large plan costs seconds);
    `limit`: the Markdown's most characters (default: the comment's); `matches`: how its embedded
    policies compare with the repository's, when known."""
    from ecrgc import render
    from ecrgc.cli.console import text_width
    from ecrgc.render.plan_markdown import DEFAULT_LIMIT

    match output:
        case Format.TEXT:
            return render.plan_text(plan, width=text_width(sys.stdout), sha256=sha256, matches=matches)
        case Format.MARKDOWN:
            return render.plan_markdown(
                plan,
                sha256=sha256,
                limit=limit or DEFAULT_LIMIT,
                run_url=ci_run_url(os.environ),
                matches=matches,
            )
        case Format.JSON:
            return render.plan_json(plan, sha256=sha256)
        case _:
            assert_never(output)


def ci_run_url(environ: Mapping[str, str]) -> str | None:
    """The GitHub Actions run this process is part of (its job summary has the full rendering), if any."""
    server, repository, run = (
        environ.get(n, "") for n in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    if server.startswith(("https://", "http://")) and _REPOSITORY.fullmatch(repository) and run.isdigit():
        return f"{server.rstrip('/')}/{repository}/actions/runs/{run}"
    return None


_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def _render_report(report: ApplyReport, output: Format) -> str:
    from ecrgc import render
    from ecrgc.apply.report import dumps_report

    match output:
        case Format.TEXT:
            from ecrgc.cli.console import text_width

            return render.report_text(report, width=text_width(sys.stdout), details=True)
        case Format.MARKDOWN:
            return render.report_markdown(report)
        case Format.JSON:
            return dumps_report(report)
        case _:
            assert_never(output)


def progress_display() -> ProgressDisplay:
    """Progress on stderr: rich on a terminal, plain lines every few seconds elsewhere (CI logs)."""
    from ecrgc.cli.progress import ProgressDisplay

    return ProgressDisplay(sys.stderr, terminal=sys.stderr.isatty())


def _plan_progress(display: ProgressDisplay) -> Callable[[PlanProgress], None]:
    """`run_plan`'s progress port, shown on `display`."""
    from ecrgc.commands.plan import PlanPhase
    from ecrgc.render.markup import plural

    phases = {
        PlanPhase.USAGE: "reading what is in use",
        PlanPhase.SCAN: "scanning and deciding",
        PlanPhase.ASSEMBLE: "assembling the plan",
    }

    def tell(progress: PlanProgress) -> None:
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
    echo_view(_render_plan(made, output, sha256=sha256), output)
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
        echo_view(_render_report(load_report_file(path), output), output)
        return
    if images:
        from ecrgc.cli.explain import show_images

        show_images(path, output)
        return
    plan = load_plan_file(path)
    matches = None
    if policy_set is not None or DEFAULT_POLICIES.is_dir():
        matches = policy_matches(plan, repository_policies([policy_set] if policy_set else []))
    echo_view(_render_plan(plan, output, limit=limit, matches=matches), output)
