"""`ecrgc validate` (policy and plan files) and `ecrgc policy …` (policies from the seed's .env)."""

import os
from pathlib import Path
from typing import Annotated

import typer

from ecrgc.errors import UsageError


def policy_paths(paths: list[Path] | None) -> list[Path]:
    """The paths given, else ./policies/; a first run in a directory without one is told what to do."""
    from ecrgc.policy import DEFAULT_POLICIES

    if paths:
        return paths
    if not DEFAULT_POLICIES.is_dir():
        raise UsageError(
            f"no {DEFAULT_POLICIES}/ directory in {Path.cwd()}: pass policy files or directories, "
            "or run `ecrgc demo` to see ecrgc plan and apply against a sample registry"
        )
    return [DEFAULT_POLICIES]


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Policy (.yaml, .yml) and plan (.json, .json.gz) files or directories."),
    ] = None,
) -> None:
    """Check policy, targets.yaml and plan files (default: policies/, targets.yaml, plans/): every error on
    stderr, a one-line verdict on stdout; exit 1 if any."""
    from ecrgc.commands import validate as validate_command

    report = validate_command.run_validate(paths or validate_command.repository_paths(*policy_paths(None)))
    for line in report.errors:
        typer.echo(line, err=True)
    typer.echo(report.summary())
    if report.errors:
        raise typer.Exit(1)


policy_app = typer.Typer(no_args_is_help=True, help="Policy documents: migrate from the seed's .env.")


@policy_app.command("from-env")
def _policy_from_env(
    env_file: Annotated[
        Path | None,
        typer.Argument(help="The seed's .env file. Default: ./.env if it exists, else the environment only."),
    ] = None,
) -> None:
    """Print the policy YAML equivalent to the seed's variables; the environment overrides the file."""
    from ecrgc.commands import policy as policy_command

    if env_file is None and Path(".env").is_file():
        env_file = Path(".env")
    result = policy_command.run_from_env(env_file, os.environ)
    for warning in result.warnings:
        typer.echo(f"ecrgc: warning: {warning}", err=True)
    typer.echo(result.text, nl=False)
