"""What the commands share: the AWS `--profile` option, `--format`, and how a plan, an apply report, a saved
plan's path and progress are printed."""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, assert_never

import typer

if TYPE_CHECKING:
    from ecrgc.apply.report import ApplyReport
    from ecrgc.cli.progress import ProgressDisplay
    from ecrgc.model import Plan, PolicyMatch

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


def render_plan(
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


def render_report(report: ApplyReport, output: Format) -> str:
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
