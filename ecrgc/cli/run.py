"""`ecrgc run`: the seed's one-shot mode, with the seed's log file.

The run writes `LOGDIR/ecr_cleaner_app_YYYYMMDD_HHMMSS.log` (local time, the seed's `config.LoadConfig`
name), holding every image scanned with its decision, the candidates, each deletion's outcome and the
summaries, whatever INTERACTIVE_MODE says. INTERACTIVE_MODE=false writes nothing to the terminal but a
user error's one line (the seed's `logger.InitLogger` sent stdout and stderr to the file).
"""

import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.core import ParameterSource  # typer vendors click

from ecrgc.cli.apply import Kubeconfig, Workers, apply_exit_code
from ecrgc.cli.shared import Profile
from ecrgc.errors import PlanRefused
from ecrgc.model import DEFAULT_APPLY_WORKERS

if TYPE_CHECKING:
    from ecrgc.commands.run import RunResult
    from ecrgc.envfile import RunOptions, SeedEnv
    from ecrgc.model import Decision, Plan, Policy

log = logging.getLogger("ecrgc")
product = logging.getLogger("ecrgc.run")
"""What `run` shows on the terminal, as the log file's lines name it (`INFO ecrgc.run: ecrgc: 3 images …`)."""


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
    workers: Workers = DEFAULT_APPLY_WORKERS,
    kubeconfig: Kubeconfig = None,
    profile: Profile = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region", help="AWS_REGION, the registry's region: wins over the .env and the environment."
        ),
    ] = None,
) -> None:
    """The seed's one-shot mode: its .env variables → a policy → plan → confirm → apply, in one go.

    Exit codes as for apply (0 · 1 · 2 · 3); LIST_ONLY exits 0.
    """
    from ecrgc import render
    from ecrgc.apply.report import ReportFiles
    from ecrgc.aws import Registry
    from ecrgc.cli.console import text_width
    from ecrgc.commands import run as run_command
    from ecrgc.envfile import load_seed_env, run_options_from_env
    from ecrgc.seedwarnings import env_warnings

    if env_file is None and Path(".env").is_file():
        env_file = Path(".env")
    env = load_seed_env(env_file, {**os.environ, **({"AWS_REGION": region} if region else {})})
    flags = {
        "dry_run": dry_run,
        "list_only": list_only,
        "auto_confirm": auto_confirm,
        "interactive": interactive,
    }
    options = _run_options(ctx, run_options_from_env(env), **flags)
    log_file = _start_log(env, options)
    for warning in env_warnings(env):
        log.warning("warning: %s", warning)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    reports = [] if options.list_only else [options.log_dir / f"run-{stamp}.jsonl"]
    with ReportFiles(reports) as files:
        result = run_command.run_once(
            env,
            options,
            connect=lambda where: Registry(where, workers=workers, profile=profile),
            base=Path(),
            plan_path=options.log_dir / f"run-{stamp}.plan.json",
            now=datetime.now(UTC),
            confirm=_run_confirm(options),
            kubeconfig=kubeconfig,
            workers=workers,
            on_plan=lambda plan: _emit(
                render.plan_text(plan, width=text_width(sys.stdout), details=options.list_only),
                options,
                logged=render.plan_text(plan, details=True),
            ),
            on_outcome=files.write,
            on_start=files.begin,
            on_decided=_log_scanned,
        )
        if result.applied is not None:
            files.finish(result.applied.report)
            report = result.applied.report
            shown = render.report_text(report, width=text_width(sys.stdout))
            _emit(shown, options, logged=render.report_text(report, details=True))
    _emit(_run_notes(result, env), options)
    log.info("log file: %s", log_file)
    raise typer.Exit(0 if result.applied is None else apply_exit_code(result.applied))


def _run_options(ctx: typer.Context, env_options: "RunOptions", **flags: bool | None) -> "RunOptions":
    """The seed's options: explicit flags (and the root's --log-dir / --debug) win over the variables."""
    root = ctx.find_root()
    chosen: dict[str, Any] = {name: value for name, value in flags.items() if value is not None}
    if root.get_parameter_source("log_dir") is ParameterSource.COMMANDLINE:
        chosen["log_dir"] = Path(root.params["log_dir"])  # the parsed text (typer converts for callbacks)
    if root.get_parameter_source("debug") is ParameterSource.COMMANDLINE:
        chosen["debug"] = root.params["debug"]
    return replace(env_options, **chosen)


def _start_log(env: "SeedEnv", options: "RunOptions") -> Path:
    """One log file per run, named as the seed named it; the terminal only when INTERACTIVE_MODE."""
    from ecrgc.cli import setup_logging

    name = f"ecr_cleaner_app_{datetime.now().astimezone().strftime('%Y%m%d_%H%M%S')}.log"  # local time
    setup_logging(
        debug=options.debug, log_dir=options.log_dir, verb="run", file_name=name, console=options.interactive
    )
    log.info("Logging initialized. Log file: %s (settings from %s)", options.log_dir / name, env.source)
    return options.log_dir / name


def _log_scanned(policy: "Policy", decisions: "Sequence[Decision]") -> None:
    from ecrgc.render.runlog import scanned_lines

    if decisions:
        log.info("%s", scanned_lines(policy, decisions))


def _run_confirm(options: "RunOptions") -> "Callable[[Plan], bool]":
    from ecrgc import render

    def confirm(plan: "Plan") -> bool:
        if not (options.interactive and sys.stdin.isatty() and sys.stderr.isatty()):
            raise PlanRefused("no terminal to confirm on: set AUTO_CONFIRM=true or pass --auto-confirm")
        typer.echo(render.plan_text(plan).split("\n\n", 1)[0], err=True)
        return typer.confirm("Delete these images?", default=False, err=True)

    return confirm


def _emit(text: str, options: "RunOptions", *, logged: str | None = None) -> None:
    """Product output: on stdout when INTERACTIVE_MODE, and always into the log file (as `logged`, which
    may say more: one line per image)."""
    if text or logged:
        product.info("%s", (logged or text).rstrip("\n"))
    if options.interactive:
        typer.echo(text, nl=False)


def _run_notes(result: "RunResult", env: "SeedEnv") -> str:
    """What the seed would have done otherwise: the list it used or wrote, PROTECT_LATEST's deletions."""
    lines = []
    if result.image_list is not None:
        verb = (
            "written from the current kube context" if result.list_written else "used; the cluster not read"
        )
        lines.append(f"ecrgc run: in use: {result.image_list} ({verb})")
    if count := result.kept_beyond_newest:
        lines.append(
            f"ecrgc run: keeps {count} image{'s' if count > 1 else ''} in use beyond the newest"
            f" PROTECT_LATEST={env.get('PROTECT_LATEST')} in use, which the seed would have deleted"
        )
    return "".join(f"{line}\n" for line in lines)
