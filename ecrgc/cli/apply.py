"""`ecrgc apply`: a reviewed plan, re-verified and applied; its exit codes (`ecrgc run` shares them)."""

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ecrgc.cli.shared import Format, Profile, echo_view
from ecrgc.cli.targets import RoleKind, plan_target
from ecrgc.errors import PlanRefused
from ecrgc.model import DEFAULT_APPLY_WORKERS, OnDrift, OutcomeStatus

if TYPE_CHECKING:
    from ecrgc.apply import ApplyResult
    from ecrgc.model import Outcome, Plan

log = logging.getLogger("ecrgc")

# The options apply and run share.
Workers = Annotated[int, typer.Option("--workers", min=1, help="Repositories applied at once.")]
Policies = Annotated[
    Path | None,
    typer.Option(
        "--policies",
        help="The repository's policies (default: policies/): the plan must embed exactly these documents.",
    ),
]
Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", envvar="ECRGC_KUBECONFIG", help="For the clusters the plan's policies name."
    ),
]


def apply_exit_code(result: "ApplyResult") -> int:
    """The exit code of `ecrgc apply` (and `ecrgc run`) for a finished apply:

    0  success: everything planned is deleted or archived now (already absent counts), or nothing to do
    1  errors: some deletion failed (the ECR code is in the report); also any ecrgc error (one line)
    2  success with skipped images: some drifted (in use, re-tagged, held …) and were left alone
    3  refused: nothing applied — the plan was edited, expired, of an unknown format, for another
       account or region, not confirmed, or `--on-drift=abort` found drift
    """
    counts = result.report.counts()
    if result.aborted:
        return PlanRefused.exit_code
    if counts[OutcomeStatus.FAILED]:
        return 1
    return 2 if counts[OutcomeStatus.SKIPPED] else 0


def _confirm(plan: "Plan", source: Path, *, auto_approve: bool) -> None:
    """On a terminal, show what the plan does (the summary table, warnings, account, region, plan path)
    and apply only on the word `yes`, as Terraform asks; without a terminal, refuse unless approved."""
    from ecrgc import render
    from ecrgc.cli.console import text_width
    from ecrgc.render import facts

    if auto_approve:
        return
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise PlanRefused(f"{source}: no terminal to confirm on: pass --auto-approve to apply without asking")
    total = facts.totals(facts.rows(plan))
    doing = facts.removals(total.deleted, total.archived) or "nothing to delete"
    typer.echo(render.plan_text(plan, width=text_width(sys.stderr), sha256=plan.sha256), err=True)
    typer.echo(
        f"Plan file {source}: {doing} in account {plan.account}, region {plan.region}; each image is"
        " verified against the live registry first.\nOnly 'yes' will be accepted to approve.",
        err=True,
    )
    try:
        answer = typer.prompt("Enter a value", default="", show_default=False, err=True)
    except typer.Abort:  # end of input or Ctrl-C
        answer = ""
    if answer.strip() != "yes":
        raise PlanRefused(f"{source}: not confirmed (only 'yes' approves); nothing was applied")


def _report_paths(ctx: typer.Context, report: Path | None, verb: str) -> list[Path]:
    """--report FILE, and a timestamped copy in the log directory (the root's --log-dir / LOGDIR)."""
    log_dir = Path(ctx.find_root().params.get("log_dir") or "logs")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return [*([report] if report else []), log_dir / f"{verb}-{stamp}.jsonl"]


def apply(
    ctx: typer.Context,
    plan_path: Annotated[Path, typer.Argument(metavar="PLAN", help="The reviewed plan file.")],
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking (CI: the merge is the approval).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Run every check and report what would happen; delete nothing.")
    ] = False,
    on_drift: Annotated[
        OnDrift,
        typer.Option(
            "--on-drift", help="skip: apply the rest and report drifted images; abort: apply nothing."
        ),
    ] = OnDrift.SKIP,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the apply report (JSON lines) here.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            envvar=["AWS_REGION", "AWS_DEFAULT_REGION"],
            help="The credentials' region (default: the plan's); another region than the plan's is refused.",
        ),
    ] = None,
    workers: Workers = DEFAULT_APPLY_WORKERS,
    kubeconfig: Kubeconfig = None,
    profile: Profile = None,
    policies: Policies = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="The plan's target in targets.yaml (default: found by its binding)."),
    ] = None,
) -> None:
    """Apply a reviewed plan: re-verify every image on the live registry, delete what still qualifies.

    Exit codes: 0 success · 1 errors · 2 success with skipped images · 3 refused (see `apply_exit_code`).
    """
    from ecrgc import apply as apply_command
    from ecrgc import render
    from ecrgc.apply.report import ReportFiles
    from ecrgc.apply.verification import repository_policies
    from ecrgc.aws import Registry
    from ecrgc.cli.console import text_width
    from ecrgc.planfile import load_plan_file
    from ecrgc.replication import check_deletions, deleted_in
    from ecrgc.usage import collector

    plan = load_plan_file(plan_path)
    paths = [policies] if policies else []
    # A target's plan: the repository's policies bound to its target, applied with its applyRoleArn.
    bound = plan_target(plan, plan_path, target, role=RoleKind.APPLY)  # its applyRoleArn
    trusted = repository_policies(paths)
    if not dry_run:
        _confirm(plan, plan_path, auto_approve=auto_approve)
    credentials = bound.credentials if bound else None
    # A target's registry is in the target's region, whatever AWS_REGION the job has.
    where = plan.region if bound else region or plan.region
    registry = Registry(where, workers=workers, profile=profile, credentials=credentials)
    # The live replication, not the plan's record of it: a deleteReplication rule enabled since the plan
    # was made would delete in replicas whose in-use images nothing has read.
    check_deletions(plan.account, plan.region, deleted_in(plan.actions), registry.replication())
    from ecrgc.cli.shared import progress_display

    step = "checking (dry run)" if dry_run else "applying"
    planned = len(plan.actions) + len(plan.repository_deletions)
    settled = 0

    def record(outcome: "Outcome") -> None:  # apply's workers call it one at a time (its sink holds a lock)
        nonlocal settled
        files.write(outcome)
        settled += 1
        display.update(step, settled, planned, unit="images and repositories")

    with ReportFiles(_report_paths(ctx, report, "apply")) as files, progress_display() as display:
        display.update(step, 0, planned, unit="images and repositories")
        result = apply_command.apply_plan(
            plan,
            source=str(plan_path),
            policies=trusted,
            registry=registry,
            usage=collector(kubeconfig=kubeconfig),
            now=datetime.now(UTC),
            on_drift=on_drift,
            dry_run=dry_run,
            workers=workers,
            on_outcome=record,
            on_verified=lambda done, total: display.update("verifying", done, total, unit="repositories"),
            on_start=files.begin,
        )
        files.finish(result.report)
    log.info("apply report: %s", ", ".join(str(p) for p in files.paths))
    echo_view(render.report_text(result.report, width=text_width(sys.stdout)), Format.TEXT)
    raise typer.Exit(apply_exit_code(result))
