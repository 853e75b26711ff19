"""`ecrgc apply` (a reviewed plan) and `ecrgc run` (the seed's one-shot mode), and their exit codes."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.core import ParameterSource  # typer vendors click

from ecrgc import apply as apply_command
from ecrgc.cli.plan import Format, Profile, echo_view
from ecrgc.errors import PlanRefused
from ecrgc.model import OutcomeStatus

if TYPE_CHECKING:
    from ecrgc.envfile import RunOptions
    from ecrgc.model import Plan

log = logging.getLogger("ecrgc")

# The options apply and run share.
Workers = Annotated[int, typer.Option("--workers", min=1, help="Repositories applied at once.")]
Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig", envvar="ECRGC_KUBECONFIG", help="For the clusters the plan's policies name."
    ),
]


def apply_exit_code(result: apply_command.ApplyResult) -> int:
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


def _confirm(plan: Plan, source: Path, *, auto_approve: bool) -> None:
    """Ask on a terminal; refuse without one, unless approved on the command line."""
    from ecrgc import render

    if auto_approve:
        return
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise PlanRefused(f"{source}: no terminal to confirm on: pass --auto-approve to apply without asking")
    typer.echo(render.plan_text(plan).split("\n\n", 1)[0], err=True)
    if not typer.confirm("Apply this plan?", default=False, err=True):
        raise PlanRefused(f"{source}: not confirmed; nothing was applied")


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
        apply_command.OnDrift,
        typer.Option(
            "--on-drift", help="skip: apply the rest and report drifted images; abort: apply nothing."
        ),
    ] = apply_command.OnDrift.SKIP,
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
    workers: Workers = apply_command.DEFAULT_WORKERS,
    kubeconfig: Kubeconfig = None,
    profile: Profile = None,
) -> None:
    """Apply a reviewed plan: re-verify every image on the live registry, delete what still qualifies.

    Exit codes: 0 success · 1 errors · 2 success with skipped images · 3 refused (see `apply_exit_code`).
    """
    from ecrgc import render
    from ecrgc.apply.report import ReportFiles
    from ecrgc.aws import Registry
    from ecrgc.planfile import load_plan_file
    from ecrgc.usage import collector

    plan = load_plan_file(plan_path)
    if not dry_run:
        _confirm(plan, plan_path, auto_approve=auto_approve)
    registry = Registry(region or plan.region, workers=workers, profile=profile)
    with ReportFiles(_report_paths(ctx, report, "apply")) as files:
        result = apply_command.apply_plan(
            plan,
            source=str(plan_path),
            registry=registry,
            usage=collector(kubeconfig=kubeconfig),
            now=datetime.now(UTC),
            on_drift=on_drift,
            dry_run=dry_run,
            workers=workers,
            on_outcome=files.write,
        )
        files.finish(result.report)
    log.info("apply report: %s", ", ".join(str(p) for p in files.paths))
    echo_view(render.report_text(result.report), Format.TEXT)
    raise typer.Exit(apply_exit_code(result))


def _run_options(ctx: typer.Context, env_options: RunOptions, **flags: bool | None) -> RunOptions:
    """The seed's options: explicit flags (and the root's --log-dir / --debug) win over the variables."""
    root = ctx.find_root()
    chosen: dict[str, Any] = {name: value for name, value in flags.items() if value is not None}
    if root.get_parameter_source("log_dir") is ParameterSource.COMMANDLINE:
        chosen["log_dir"] = root.params["log_dir"]
    if root.get_parameter_source("debug") is ParameterSource.COMMANDLINE:
        chosen["debug"] = root.params["debug"]
    return replace(env_options, **chosen)


def _run_confirm(options: RunOptions) -> Callable[[Plan], bool]:
    from ecrgc import render

    def confirm(plan: Plan) -> bool:
        if not (options.interactive and sys.stdin.isatty() and sys.stderr.isatty()):
            raise PlanRefused("no terminal to confirm on: set AUTO_CONFIRM=true or pass --auto-confirm")
        typer.echo(render.plan_text(plan).split("\n\n", 1)[0], err=True)
        return typer.confirm("Delete these images?", default=False, err=True)

    return confirm


def _quiet_console() -> None:
    """INTERACTIVE_MODE=false: what would go to the terminal goes only to the log file."""
    root = logging.getLogger("ecrgc")
    for handler in list(root.handlers):
        if type(handler) is logging.StreamHandler:  # the console; the FileHandler subclass stays
            root.removeHandler(handler)


def _emit(text: str, *, interactive: bool) -> None:
    """Product output: stdout, or only the log file when INTERACTIVE_MODE=false."""
    if interactive:
        typer.echo(text, nl=False)
    else:
        log.info("%s", text.rstrip("\n"))


def run(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file", help="The seed's .env (default: ./.env if it exists); the environment wins."
        ),
    ] = None,
    dry_run: Annotated[
        bool | None, typer.Option("--dry-run/--no-dry-run", help="DRYRUN: plan and verify, delete nothing.")
    ] = None,
    list_only: Annotated[
        bool | None, typer.Option("--list-only/--no-list-only", help="LIST_ONLY: print the candidates only.")
    ] = None,
    auto_confirm: Annotated[
        bool | None, typer.Option("--auto-confirm/--no-auto-confirm", help="AUTO_CONFIRM: do not ask.")
    ] = None,
    interactive: Annotated[
        bool | None,
        typer.Option("--interactive/--no-interactive", help="INTERACTIVE_MODE: false logs to the file only."),
    ] = None,
    workers: Workers = apply_command.DEFAULT_WORKERS,
    kubeconfig: Kubeconfig = None,
) -> None:
    """The seed's one-shot mode: its .env variables → a policy → plan → confirm → apply, in one go.

    Exit codes as for apply (0 · 1 · 2 · 3); LIST_ONLY exits 0.
    """
    from ecrgc import render
    from ecrgc.apply.report import ReportFiles
    from ecrgc.aws import Registry
    from ecrgc.cli import setup_logging
    from ecrgc.commands import run as run_command
    from ecrgc.envfile import load_seed_env, run_options_from_env

    if env_file is None and Path(".env").is_file():
        env_file = Path(".env")
    env = load_seed_env(env_file, os.environ)
    options = _run_options(
        ctx,
        run_options_from_env(env),
        dry_run=dry_run,
        list_only=list_only,
        auto_confirm=auto_confirm,
        interactive=interactive,
    )
    root = ctx.find_root().params
    if (options.log_dir, options.debug) != (root.get("log_dir"), root.get("debug")):
        setup_logging(debug=options.debug, log_dir=options.log_dir, verb="run")  # the .env's LOGDIR, DEBUG
    if not options.interactive:
        _quiet_console()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    reports = [] if options.list_only else [options.log_dir / f"run-{stamp}.jsonl"]
    with ReportFiles(reports) as files:
        result = run_command.run_once(
            env,
            options,
            connect=lambda region: Registry(region, workers=workers),
            base=Path(),
            plan_path=options.log_dir / f"run-{stamp}.plan.json",
            now=datetime.now(UTC),
            confirm=_run_confirm(options),
            kubeconfig=kubeconfig,
            workers=workers,
            on_plan=lambda plan: _emit(
                render.plan_text(plan, details=options.list_only), interactive=options.interactive
            ),
            on_outcome=files.write,
        )
        if result.applied is not None:
            files.finish(result.applied.report)
            _emit(render.report_text(result.applied.report), interactive=options.interactive)
    raise typer.Exit(0 if result.applied is None else apply_exit_code(result.applied))
