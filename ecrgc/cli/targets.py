"""`ecrgc targets`: the registries targets.yaml names, as text or as the CI matrix (JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, assert_never

import typer

from ecrgc.cli.plan import Format
from ecrgc.targets import DEFAULT_TARGETS

TargetsFile = Annotated[
    Path, typer.Option("--targets", help="The targets file (default: targets.yaml beside policies/).")
]


def targets(
    output: Annotated[Format, typer.Option("--format", help="text, or json: the CI matrix.")] = Format.TEXT,
    targets_file: TargetsFile = DEFAULT_TARGETS,
    policies: Annotated[
        list[Path] | None, typer.Option("--policies", help="The policies (default: policies/).")
    ] = None,
) -> None:
    """List the targets and their policies; `--format json` prints the GitHub Actions matrix."""
    from ecrgc.cli.policy import policy_paths
    from ecrgc.commands.targets import run_targets

    bound = run_targets(targets_file, policy_paths(policies))
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
