"""The command line: parses options, builds adapters, calls `commands.*.run_*`, renders, picks exit codes.

Errors are handled in exactly one place (`_Group.invoke`): an `EcrgcError` becomes one line on stderr and
its exit code; anything else is a bug, shown as a traceback only under `--debug`.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, assert_never

import typer
from typer._click.core import Context, ParameterSource  # typer vendors click; Group.invoke takes Context
from typer.core import TyperGroup

from ecrgc import __version__, render
from ecrgc.aws import Registry
from ecrgc.commands import apply as apply_command
from ecrgc.commands import demo as demo_command
from ecrgc.commands import github as github_command
from ecrgc.commands import inuse as inuse_command
from ecrgc.commands import plan as plan_command
from ecrgc.commands import plans as plans_command
from ecrgc.commands import policy as policy_command
from ecrgc.commands import run as run_command
from ecrgc.commands import sandbox as sandbox_command
from ecrgc.commands import validate as validate_command
from ecrgc.envfile import RunOptions, load_seed_env, run_options_from_env
from ecrgc.errors import ConfigError, EcrgcError, PlanRefused, UsageError
from ecrgc.github import GitHub
from ecrgc.model import OutcomeStatus, Plan
from ecrgc.planfile import load_plan_file, write_plan_file
from ecrgc.policy import load_policies, parse_duration
from ecrgc.report import ApplyReport, dumps_report, load_report_file
from ecrgc.sandbox import Sandbox

log = logging.getLogger("ecrgc")

EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in ecrgc, not something the user did


class _Group(TyperGroup):
    """Maps ecrgc's errors to one line on stderr and an exit code, for every command and sub-command."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except EcrgcError as exc:
            _report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as exc:
            if ctx.find_root().meta.get("ecrgc.debug"):
                raise
            log.debug("internal error", exc_info=True)
            typer.echo(f"ecrgc: internal error: {type(exc).__name__}: {exc} (re-run with --debug)", err=True)
            raise typer.Exit(EXIT_INTERNAL) from None


def _report_error(exc: EcrgcError) -> None:
    log.debug("user error", exc_info=True)
    typer.echo(f"ecrgc: {exc}", err=True)
    if isinstance(exc, ConfigError):
        for line in exc.errors:
            typer.echo(f"  {line}", err=True)


app = typer.Typer(
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Garbage-collect AWS ECR images declaratively: policies → plan → review → apply.",
)


def main() -> None:
    """Console-script entry point."""
    app()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecrgc {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="DEBUG", help="Debug logs and tracebacks.")
    ] = False,
    log_dir: Annotated[
        Path, typer.Option("--log-dir", envvar="LOGDIR", help="Where each run writes its log file.")
    ] = Path("logs"),
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    ctx.meta["ecrgc.debug"] = debug
    if ctx.invoked_subcommand and not ctx.resilient_parsing:
        _setup_logging(debug=debug, log_dir=log_dir, verb=ctx.invoked_subcommand)


def _setup_logging(*, debug: bool, log_dir: Path, verb: str) -> None:
    """Logs go to stderr (warnings, or everything with --debug) and to a timestamped file per run."""
    root = logging.getLogger("ecrgc")
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    console = _Stderr()
    console.setLevel(logging.DEBUG if debug else logging.WARNING)
    console.setFormatter(logging.Formatter("ecrgc: %(message)s"))
    root.addHandler(console)
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        file = logging.FileHandler(log_dir / f"ecrgc-{stamp}-{verb}.log", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{log_dir}: cannot write the log directory ({exc.strerror}); set --log-dir or LOGDIR"
        ) from exc
    file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted (test runners swap it per call)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass  # StreamHandler.__init__ assigns it; the current sys.stderr always wins


github_app = typer.Typer(no_args_is_help=True, help="Publish renderings to a pull request or a job summary.")
app.add_typer(github_app, name="github")


@github_app.command("comment")
def _github_comment(
    *,
    body_file: Annotated[
        list[Path], typer.Option("--body-file", help="Markdown to post; repeat to post several parts.")
    ],
    pr: Annotated[int | None, typer.Option("--pr", help="The pull request number.")] = None,
    commit: Annotated[
        str | None, typer.Option("--commit", help="Instead of --pr: the pull request this commit merged.")
    ] = None,
    repo: Annotated[str, typer.Option("--repo", envvar="GITHUB_REPOSITORY", help="OWNER/NAME.")] = "",
    marker: Annotated[
        str, typer.Option("--marker", help="Hidden marker naming the sticky comment.")
    ] = github_command.DEFAULT_MARKER,
    author: Annotated[
        str | None, typer.Option("--author", help="Login the token posts as (default: asked of GitHub).")
    ] = None,
) -> None:
    """Create or update the sticky comment (found by its marker and author) on a pull request."""
    repo = github_command.check_repo(repo)
    parts = github_command.read_bodies(body_file)
    body = github_command.compose_body(parts, marker=marker, sources=[str(p) for p in body_file])
    client = GitHub.from_env(os.environ)
    number = _pull_request(client, repo=repo, pr=pr, commit=commit)
    if number is None:
        typer.echo(f"ecrgc: no pull request contains commit {commit}; nothing posted", err=True)
        return
    result = github_command.run_comment(
        client, repo=repo, pull_request=number, body=body, marker=marker, author=author
    )
    typer.echo(f"{result.action} {result.comment.html_url or result.comment.id}")


def _pull_request(client: GitHub, *, repo: str, pr: int | None, commit: str | None) -> int | None:
    if (pr is None) == (commit is None):
        raise UsageError("pass exactly one of --pr N or --commit SHA")
    if pr is not None:
        return pr
    assert commit is not None
    return github_command.pull_request_for_commit(client, repo=repo, sha=commit)


@github_app.command("summary")
def _github_summary(
    body_file: Annotated[Path, typer.Option("--body-file", help="Markdown to append.")],
    summary: Annotated[
        str, typer.Option("--summary-file", envvar="GITHUB_STEP_SUMMARY", help="The job summary file.")
    ] = "",
) -> None:
    """Append to $GITHUB_STEP_SUMMARY, cut (with a note) so that it stays within GitHub's 1 MiB."""
    if not summary:
        raise UsageError("GITHUB_STEP_SUMMARY is not set: run in GitHub Actions or pass --summary-file")
    (text,) = github_command.read_bodies([body_file])
    result = github_command.run_summary(Path(summary), text, source=str(body_file))
    if result.truncated:
        typer.echo(f"ecrgc: {body_file} was cut to fit the 1 MiB job summary", err=True)


plans_app = typer.Typer(no_args_is_help=True, help="The plan files of a GitOps repository: list, prune.")
app.add_typer(plans_app, name="plans")


@plans_app.command("list")
def _plans_list(
    directory: Annotated[Path, typer.Argument(help="The directory of plan files.")] = Path("plans"),
    unexpired: Annotated[
        bool, typer.Option("--unexpired", help="Only plans apply would accept now.")
    ] = False,
) -> None:
    """Print the plan files, one path per line, oldest first (by created_at): the order to apply them in."""
    now = datetime.now(UTC)
    for entry in plans_command.run_list(directory):
        if not (unexpired and entry.expired(now)):
            typer.echo(str(entry.path))


@plans_app.command("prune-expired")
def _plans_prune_expired(
    directory: Annotated[Path, typer.Argument(help="The directory of plan files.")] = Path("plans"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be removed.")] = False,
) -> None:
    """Remove the plan files that have expired, printing each removed path."""
    for entry in plans_command.run_prune_expired(directory, now=datetime.now(UTC), dry_run=dry_run):
        typer.echo(str(entry.path))


@app.command("sandbox")
def _sandbox(
    *,
    seed: Annotated[
        list[Path] | None, typer.Option("--seed", help="A YAML registry description; repeatable.")
    ] = None,
    synthetic: Annotated[
        str | None, typer.Option("--synthetic", help="N_REPOS:N_IMAGES of synthetic images (fixed seed).")
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free one).")] = 0,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    account: Annotated[str, typer.Option("--account", help="The account id it answers as.")] = "123456789012",
    region: Annotated[str, typer.Option("--region", help="The region it answers as.")] = "ap-northeast-1",
    latency: Annotated[float, typer.Option("--latency", help="Milliseconds added to every call.")] = 0.0,
    throttle: Annotated[
        list[str] | None,
        typer.Option("--throttle", help="OP=RATE calls per second (OP may be *); repeatable."),
    ] = None,
    error_rate: Annotated[float, typer.Option("--error-rate", help="Share of calls answered 500.")] = 0.0,
    drop_rate: Annotated[float, typer.Option("--drop-rate", help="Share of connections dropped.")] = 0.0,
    fault_seed: Annotated[int, typer.Option("--fault-seed", help="Seed of the fault injection.")] = 0,
    activation_seconds: Annotated[
        float, typer.Option("--activation-seconds", help="How long a restore from archive takes.")
    ] = 1200.0,
    pull_time_refresh: Annotated[
        float, typer.Option("--pull-time-refresh", help="Seconds between lastRecordedPullTime updates.")
    ] = 0.0,
    subject_delete: Annotated[
        str, typer.Option("--subject-delete", help="Deleting a subject: orphan|cascade|block its referrers.")
    ] = "orphan",
    same_call_children: Annotated[
        str,
        typer.Option(
            "--same-call-children", help="Index + children in one call: reject|in_order|indexes_first."
        ),
    ] = "reject",
) -> None:
    """Serve a local ECR (and STS) endpoint until interrupted; prints the variables to export."""
    options = sandbox_command.SandboxOptions(
        account=account,
        region=region,
        host=host,
        port=port,
        seeds=tuple(seed or ()),
        synthetic=synthetic,
        latency_ms=latency,
        throttles=tuple(throttle or ()),
        error_rate=error_rate,
        drop_rate=drop_rate,
        fault_seed=fault_seed,
        activation_seconds=activation_seconds,
        pull_time_refresh_seconds=pull_time_refresh,
        subject_delete=subject_delete,
        same_call_children=same_call_children,
    )

    def ready(sandbox: Sandbox) -> None:
        typer.echo(sandbox_command.export_lines(sandbox.environ()), nl=False)
        typer.echo(f"ecrgc: ECR sandbox on {sandbox.endpoint_url}; Ctrl-C to stop", err=True)

    summary = sandbox_command.run_sandbox(options, ready=ready)
    typer.echo(f"ecrgc: served {summary.calls} calls; {summary.images} images left", err=True)


class Format(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


def _render_plan(plan: Plan, output: Format) -> str:
    match output:
        case Format.TEXT:
            return render.plan_text(plan)
        case Format.MARKDOWN:
            return render.plan_markdown(plan)
        case Format.JSON:
            return render.plan_json(plan)
        case _:
            assert_never(output)


def _render_report(report: ApplyReport, output: Format) -> str:
    match output:
        case Format.TEXT:
            return render.report_text(report, details=True)
        case Format.MARKDOWN:
            return render.report_markdown(report)
        case Format.JSON:
            return dumps_report(report)
        case _:
            assert_never(output)


def _now() -> datetime:
    return datetime.now(UTC)


def _progress(verb: str, noun: str) -> Callable[[int, int], None] | None:
    """A one-line counter on stderr, redrawn in place, when stderr is a terminal (never into logs or CI)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done == total else ""
        sys.stderr.write(f"\r\033[Kecrgc: {verb} {done:,}/{total:,} {noun}{end}")
        sys.stderr.flush()

    return show


@app.command("plan")
def _plan(
    paths: Annotated[list[Path] | None, typer.Argument(help="Policy files or directories.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the plan file here (else: what-if).")
    ] = None,
    expires_in: Annotated[str, typer.Option("--expires-in", help="How long the plan may be applied.")] = "7d",
    output: Annotated[Format, typer.Option("--format", help="How to print the summary.")] = Format.TEXT,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 0: nothing to delete, 2: deletions planned.")
    ] = False,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", envvar="ECRGC_KUBECONFIG")] = None,
    check: Annotated[
        Path | None,
        typer.Option(
            "--check",
            metavar="PLAN",
            help="Re-verify a committed plan against live state now, as apply would; delete nothing.",
        ),
    ] = None,
) -> None:
    """Plan what to delete from the live registry and the images in use; print it, and save it with --out."""
    if check is not None:
        _check_plan(check, kubeconfig=kubeconfig)
        return
    policies = load_policies(paths or [Path("policies")])
    region = plan_command.target_region(policies)
    registry = Registry(region, registry_id=policies[0].registry_id)
    plan = plan_command.run_plan(
        policies,
        inventory=registry,
        usage=lambda chosen: plan_command.collect_usage(chosen, kubeconfig=kubeconfig),
        now=_now(),
        expires_in=parse_duration(expires_in),
        progress=_progress("scanned", "repositories"),
    )
    if out is not None:
        write_plan_file(plan, out)
        log.info("wrote %s", out)
    typer.echo(_render_plan(plan, output), nl=False)
    if detailed_exitcode and plan.actions:
        raise typer.Exit(2)


def _check_plan(path: Path, *, kubeconfig: str | None) -> None:
    """`plan --check`: exit 0 when every action would pass apply's preconditions now, else refuse."""
    plan = load_plan_file(path)
    result = apply_command.run_check(
        path,
        registry=Registry(plan.region),
        usage=lambda chosen: plan_command.collect_usage(chosen, kubeconfig=kubeconfig),
        now=_now(),
    )
    typer.echo(render.report_text(result.report, details=True), nl=False)
    drifted = result.drifted
    if drifted:
        reasons = ", ".join(sorted({o.reason for o in drifted}))
        raise PlanRefused(
            f"{path}: {len(drifted)} planned images would not pass apply's checks now ({reasons});"
            " re-run ecrgc plan and commit the new plan"
        )


@app.command("show")
def _show(
    path: Annotated[Path, typer.Argument(help="A plan file (.json) or an apply report (.jsonl).")],
    output: Annotated[Format, typer.Option("--format")] = Format.TEXT,
) -> None:
    """Render a plan file or an apply report as text, Markdown (PR comments) or JSON."""
    if path.suffix == ".jsonl":
        typer.echo(_render_report(load_report_file(path), output), nl=False)
    else:
        typer.echo(_render_plan(load_plan_file(path), output), nl=False)


@app.command("validate")
def _validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Policy (.yaml, .yml) and plan (.json) files or directories.")
    ] = None,
) -> None:
    """Check policy and plan files: every error on stderr, a one-line verdict on stdout; exit 1 if any."""
    report = validate_command.run_validate(paths or [Path("policies")])
    for line in report.errors:
        typer.echo(line, err=True)
    typer.echo(report.summary())
    if report.errors:
        raise typer.Exit(1)


policy_app = typer.Typer(no_args_is_help=True, help="Policy documents: migrate from the seed's .env.")
app.add_typer(policy_app, name="policy")


@policy_app.command("from-env")
def _policy_from_env(
    env_file: Annotated[
        Path | None,
        typer.Argument(help="The seed's .env file. Default: ./.env if it exists, else the environment only."),
    ] = None,
) -> None:
    """Print the policy YAML equivalent to the seed's variables; the environment overrides the file."""
    if env_file is None and Path(".env").is_file():
        env_file = Path(".env")
    typer.echo(policy_command.run_from_env(env_file, os.environ), nl=False)


@app.command("demo")
def _demo(
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Keep the demo's policy, image list and plan here.")
    ] = None,
) -> None:
    """Plan and apply against an embedded sample registry: no AWS account, no network."""
    with tempfile.TemporaryDirectory(prefix="ecrgc-demo-") as scratch:
        where = workdir or Path(scratch)
        typer.echo("ecrgc: starting the sandbox with the sample registry …", err=True)
        result = demo_command.run_demo(where, now=_now())
        typer.echo(f"== plan: {result.images_before} images scanned; the plan file is {result.plan_path}\n")
        typer.echo(render.plan_text(result.plan), nl=False)
        typer.echo("\n== apply: every planned image re-verified against the live registry, then deleted\n")
        typer.echo(render.report_text(result.report), nl=False)
        after = sum(result.images_after.values())
        typer.echo(f"\n== the registry now holds {after} of its {result.images_before} images:")
        for name, count in result.images_after.items():
            typer.echo(f"   {name:<24} {count:>5}")


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


@app.command("apply")
def _apply(
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
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Repositories applied at once.")
    ] = apply_command.DEFAULT_WORKERS,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            "--kubeconfig", envvar="ECRGC_KUBECONFIG", help="For the clusters the plan's policies name."
        ),
    ] = None,
) -> None:
    """Apply a reviewed plan: re-verify every image on the live registry, delete what still qualifies.

    Exit codes: 0 success · 1 errors · 2 success with skipped images · 3 refused (see `apply_exit_code`).
    """
    plan = load_plan_file(plan_path)
    if not dry_run:
        _confirm(plan, plan_path, auto_approve=auto_approve)
    registry = Registry(region or plan.region, workers=workers)
    with apply_command.ReportFiles(_report_paths(ctx, report, "apply")) as files:
        result = apply_command.apply_plan(
            plan,
            source=str(plan_path),
            registry=registry,
            usage=lambda chosen: plan_command.collect_usage(chosen, kubeconfig=kubeconfig),
            now=_now(),
            on_drift=on_drift,
            dry_run=dry_run,
            workers=workers,
            on_outcome=files.write,
        )
        files.finish(result.report)
    log.info("apply report: %s", ", ".join(str(p) for p in files.paths))
    typer.echo(render.report_text(result.report), nl=False)
    raise typer.Exit(apply_exit_code(result))


inuse_app = typer.Typer(
    no_args_is_help=True, help="Images in use: export a cluster's for a planner elsewhere."
)
app.add_typer(inuse_app, name="inuse")


@inuse_app.command("export")
def _inuse_export(
    contexts: Annotated[
        list[str] | None,
        typer.Option(
            "--context", help="A kubeconfig context to read (repeatable). Default: the current one."
        ),
    ] = None,
    in_cluster: Annotated[
        bool, typer.Option("--in-cluster", help="Read the cluster this pod runs in, as its service account.")
    ] = False,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Accept a cluster that has no pods at all.")
    ] = False,
    kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", envvar="ECRGC_KUBECONFIG")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the list here (atomically) instead of stdout.")
    ] = None,
) -> None:
    """Write every image the clusters use in the seed's IMG_LIST format (one reference per line,
    digests included, who uses it as comments); list the file under protect.imageLists."""
    chosen = inuse_command.contexts_for(contexts or [], in_cluster=in_cluster, allow_empty=allow_empty)
    text = inuse_command.run_export(chosen, kubeconfig=kubeconfig)
    if out is None:
        typer.echo(text, nl=False)
    else:
        inuse_command.save(text, out)
        log.info("wrote %s", out)


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


@app.command("run")
def _run(
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
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Repositories applied at once.")
    ] = apply_command.DEFAULT_WORKERS,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            "--kubeconfig", envvar="ECRGC_KUBECONFIG", help="For the clusters the plan's policies name."
        ),
    ] = None,
) -> None:
    """The seed's one-shot mode: its .env variables → a policy → plan → confirm → apply, in one go.

    Exit codes as for apply (0 · 1 · 2 · 3); LIST_ONLY exits 0.
    """
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
        _setup_logging(debug=options.debug, log_dir=options.log_dir, verb="run")  # the .env's LOGDIR, DEBUG
    if not options.interactive:
        _quiet_console()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    reports = [] if options.list_only else [options.log_dir / f"run-{stamp}.jsonl"]
    with apply_command.ReportFiles(reports) as files:
        result = run_command.run_once(
            env,
            options,
            connect=lambda region: Registry(region, workers=workers),
            base=Path(),
            plan_path=options.log_dir / f"run-{stamp}.plan.json",
            now=_now(),
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
