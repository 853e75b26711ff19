"""The command line: parses options, builds adapters, calls `commands.*.run_*`, renders, picks exit codes."""

from __future__ import annotations

import typer

from ecrgc import __version__

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Garbage-collect AWS ECR images, safely.")


def main() -> None:
    """Console-script entry point."""
    app()


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        typer.echo(f"ecrgc {__version__}")
        raise typer.Exit
