"""The command line: parses options, builds adapters, calls `commands.*.run_*`, renders, picks exit codes.

This package holds the Typer app, the root options and the one error handler; each command group lives in
its own module (`plan`, `apply`, `run`, `github`, `inuse`, `policy`, `sandbox`), named in the command table
(`COMMANDS`). A command's module is imported, and its click command built, when the command line names it
(or a help or completion lists it): `ecrgc plan` pays for no other command (~50 ms of start, issue 14).
Those modules import the adapters (boto3, the kubernetes client, the sandbox) inside the commands that need
them, so that `ecrgc --version` or `ecrgc github …` never pays for the SDKs.

Errors are handled in exactly one place (`_Group.invoke`): an `EcrgcError` becomes one line on stderr and
its exit code; anything else is a bug, shown as a traceback only under `--debug`.

No `from __future__ import annotations` in the commands' modules: typer reads their annotations, and as
strings it would compile and evaluate each one twice in every run (~5 ms of CPU a command, issue 14).
"""

import gc
import importlib
import logging
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from typer._click.core import Command, Context, ParameterSource  # typer vendors click
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

from ecrgc import __version__, start
from ecrgc.errors import ConfigError, EcrgcError

__all__ = ["app", "main", "setup_logging"]

log = logging.getLogger("ecrgc")

EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in ecrgc, not something the user did

GC_THRESHOLDS = (10_000, 10, 10)
"""The cyclic collector's thresholds. Python's (700, 10, 10) runs a young collection every 700 net
allocations and then full ones as the heap grows: a plan allocates a few objects per image, none in a
cycle, and at 100,000 images spent ~1 s of its ~6.5 s of CPU collecting (0.6 s in 6 full collections).
With these: ~0.35 s and no full collection, the same peak RSS (measured with gc.callbacks, README
"Performance"). Cycles are still collected, only less often."""


COMMANDS: Final = (
    ("sandbox", "sandbox", "sandbox"),
    ("plan", "plan", "plan"),
    ("show", "plan", "show"),
    ("explain", "explain", "explain"),
    ("validate", "policy", "validate"),
    ("targets", "targets", "targets"),
    ("demo", "sandbox", "demo"),
    ("apply", "apply", "apply"),
    ("run", "run", "run"),
    ("github", "github", "github_app"),
    ("plans", "github", "plans_app"),
    ("policy", "policy", "policy_app"),
    ("inuse", "inuse", "inuse_app"),
)
"""The command table, in the order `ecrgc --help` lists it: (name, module of `ecrgc.cli`, its attribute: the
command's function, or the `typer.Typer` of a command group)."""


class _Commands(Mapping[str, Command]):
    """The root's commands (`COMMANDS`), each built when first looked up, as typer builds a command
    registered with `app.command(name)` or a group with `app.add_typer(group, name=name)`."""

    def __init__(self, root: typer.Typer) -> None:
        self._root = root
        self._table = {name: (module, attribute) for name, module, attribute in COMMANDS}
        self._built: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            module, attribute = self._table[name]
            self._built[name] = self._build(
                name, getattr(importlib.import_module(f"ecrgc.cli.{module}"), attribute)
            )
        return self._built[name]

    def _build(self, name: str, target: Any) -> Command:
        root = self._root
        if isinstance(target, typer.Typer):
            return get_group_from_info(
                TyperInfo(target, name=name),
                pretty_exceptions_short=root.pretty_exceptions_short,
                suggest_commands=root.suggest_commands,
                rich_markup_mode=root.rich_markup_mode,
            )
        return get_command_from_info(
            CommandInfo(name=name, callback=target),
            pretty_exceptions_short=root.pretty_exceptions_short,
            rich_markup_mode=root.rich_markup_mode,
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


class _Group(TyperGroup):
    """The root command: its commands built as they are named (`_Commands`); maps ecrgc's errors to one line
    on stderr and an exit code, for every command and sub-command."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(app)  # type: ignore[assignment]  # read only: typer adds no command to it

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
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_show_locals=False,
    help="Garbage-collect AWS ECR images declaratively: policies → plan → review → apply.",
)


def main() -> None:
    """Console-script entry point."""
    gc.set_threshold(*GC_THRESHOLDS)
    start.own()  # a command's start may freeze what it made (`ecrgc.start`)
    try:
        app()
    finally:
        # Python's exit runs full collections over every object left (the modules, botocore's loaded
        # models: ~70,000 objects, ~0.1 s of CPU after a plan, measured); frozen, they are only freed as
        # it clears the modules. Files, atexit handlers and logging's flush are unaffected: only cycles
        # left at exit go uncollected, as the process ends.
        gc.freeze()


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
    # `run` sets its logging up itself, once it has read the .env's LOGDIR, DEBUG and INTERACTIVE_MODE.
    if ctx.invoked_subcommand not in (None, "run") and not ctx.resilient_parsing:
        explicit = ctx.get_parameter_source("log_dir") in (
            ParameterSource.COMMANDLINE,
            ParameterSource.ENVIRONMENT,
        )
        to_file = explicit or ctx.invoked_subcommand in LOGGED_VERBS
        setup_logging(debug=debug, log_dir=log_dir if to_file else None, verb=ctx.invoked_subcommand)


LOGGED_VERBS = frozenset({"plan", "apply", "run"})
"""The verbs that write a log file by default (the ones that read or change a registry); the others only
when --log-dir or LOGDIR asks, so that `ecrgc validate` or `ecrgc show` leaves no logs/ behind."""


def setup_logging(
    *, debug: bool, log_dir: Path | None, verb: str, file_name: str | None = None, console: bool = True
) -> None:
    """Logs go to stderr (warnings, or everything with --debug; nothing without `console`) and, unless
    `log_dir` is None, to a timestamped file per run (`file_name` in `log_dir`, if given)."""
    root = logging.getLogger("ecrgc")
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    if console:
        stderr = _Stderr()
        stderr.setLevel(logging.DEBUG if debug else logging.WARNING)
        stderr.setFormatter(logging.Formatter("ecrgc: %(message)s"))
        root.addHandler(stderr)
    if log_dir is None:
        return
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        file = logging.FileHandler(log_dir / (file_name or f"ecrgc-{stamp}-{verb}.log"), encoding="utf-8")
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
