"""`ecrgc github …` (publish renderings to a pull request or a job summary) and `ecrgc plans …`."""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ecrgc.commands import github as github_command
from ecrgc.errors import UsageError

if TYPE_CHECKING:
    from ecrgc.commands.plans import PlanFile
    from ecrgc.github import GitHub
    from ecrgc.render.sections_markdown import Section

github_app = typer.Typer(no_args_is_help=True, help="Publish renderings to a pull request or a job summary.")


Plans = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Plan files to render, one section each (verdicts first), instead of --body-file parts."
    ),
]
Titles = Annotated[
    list[str] | None,
    typer.Option("--title", help="Each plan's section title (one Markdown line), in the plans' order."),
]
BodyFiles = Annotated[
    list[Path] | None,
    typer.Option("--body-file", help="Markdown to post; repeat for several parts (with plans: said first)."),
]


@github_app.command("comment")
def _github_comment(
    plans: Plans = None,
    *,
    body_file: BodyFiles = None,
    title: Titles = None,
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
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the body instead of posting it (e.g. a PR's body).")
    ] = False,
) -> None:
    """Create or update the sticky comment (found by its marker and author) on a pull request."""
    from ecrgc.render.plan_markdown import DEFAULT_LIMIT

    if plans:
        parts = github_command.read_bodies(body_file) if body_file else []
        body = github_command.sections_body(
            _sections(plans, title or []), parts, marker=marker, limit=DEFAULT_LIMIT, run_url=_run_url()
        )
    else:
        paths = body_file or []
        parts = github_command.read_bodies(paths)
        body = github_command.compose_body(parts, marker=marker, sources=[str(p) for p in paths])
    if dry_run:
        typer.echo(body, nl=False)
        return
    repo = github_command.check_repo(repo)
    from ecrgc.github import GitHub

    client = GitHub.from_env(os.environ)
    number = _pull_request(client, repo=repo, pr=pr, commit=commit)
    if number is None:
        typer.echo(f"ecrgc: no pull request contains commit {commit}; nothing posted", err=True)
        return
    result = github_command.run_comment(
        client, repo=repo, pull_request=number, body=body, marker=marker, author=author
    )
    typer.echo(f"{result.action} {result.comment.html_url or result.comment.id}")


def _sections(plans: list[Path], titles: list[str]) -> "list[Section]":
    """Each plan loaded (under every loader's checks), titled, and compared with the repository's policies
    when there is a policies/ directory (as `ecrgc show` does)."""
    from ecrgc.apply.verification import policy_matches, repository_policies
    from ecrgc.planfile import load_plan_file
    from ecrgc.policy import DEFAULT_POLICIES
    from ecrgc.render.markup import code
    from ecrgc.render.sections_markdown import Section

    if titles and len(titles) != len(plans):
        raise UsageError(
            f"--title: {len(titles)} given for {len(plans)} plans: give one per plan, in their order, or none"
        )
    policies = repository_policies([]) if DEFAULT_POLICIES.is_dir() else None
    sections = []
    for index, path in enumerate(plans):
        plan = load_plan_file(path)
        matches = policy_matches(plan, policies) if policies is not None else None
        sections.append(
            Section(title=titles[index] if titles else code(str(path)), plan=plan, matches=matches)
        )
    return sections


def _run_url() -> str | None:
    from ecrgc.cli.shared import ci_run_url

    return ci_run_url(os.environ)


def _pull_request(client: "GitHub", *, repo: str, pr: int | None, commit: str | None) -> int | None:
    if (pr is None) == (commit is None):
        raise UsageError("pass exactly one of --pr N or --commit SHA")
    if pr is not None:
        return pr
    assert commit is not None
    return github_command.pull_request_for_commit(client, repo=repo, sha=commit)


SUMMARY_RENDERING = 1_000_000
"""Characters of a job summary's rendering of plans: every list that fits GitHub's 1 MiB."""


@github_app.command("summary")
def _github_summary(
    plans: Plans = None,
    *,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", help="Markdown to append (with plans: said first).")
    ] = None,
    title: Titles = None,
    summary: Annotated[
        str, typer.Option("--summary-file", envvar="GITHUB_STEP_SUMMARY", help="The job summary file.")
    ] = "",
) -> None:
    """Append to $GITHUB_STEP_SUMMARY, cut (with a note) so that it stays within GitHub's 1 MiB; with plans,
    their full rendering (every per-image list), a section each."""
    if not summary:
        raise UsageError("GITHUB_STEP_SUMMARY is not set: run in GitHub Actions or pass --summary-file")
    bodies = [body_file] if body_file else []
    if plans:
        text = github_command.sections_body(
            _sections(plans, title or []),
            github_command.read_bodies(bodies) if bodies else [],
            marker="ecrgc:summary",
            limit=SUMMARY_RENDERING,
            run_url=None,
        )
        source = ", ".join(str(p) for p in plans)
    else:
        (text,) = github_command.read_bodies(bodies)  # none: the one-line error asking for --body-file
        source = str(body_file)
    result = github_command.run_summary(Path(summary), text, source=source)
    if result.truncated:
        typer.echo(f"ecrgc: {source} was cut to fit the 1 MiB job summary", err=True)


PlansTarget = Annotated[
    str | None, typer.Option("--target", help="The plans of this target of targets.yaml: DIRECTORY/NAME.")
]
TargetsFile = Annotated[Path, typer.Option("--targets", help="The targets file (default: targets.yaml).")]


plans_app = typer.Typer(no_args_is_help=True, help="The plan files of a GitOps repository: list, prune.")


@plans_app.command("list")
def _plans_list(
    directory: Annotated[Path, typer.Argument(help="The directory of plan files.")] = Path("plans"),
    unexpired: Annotated[
        bool, typer.Option("--unexpired", help="Only plans apply would accept now.")
    ] = False,
    target: PlansTarget = None,
    targets_file: TargetsFile = Path("targets.yaml"),
) -> None:
    """Print the plan files, one path per line, oldest first (by created_at): the order to apply them in."""
    from ecrgc.commands import plans as plans_command

    now = datetime.now(UTC)
    listed = _listed(directory, target, targets_file)
    for entry in plans_command.run_list(directory) if listed is None else listed:
        if not (unexpired and entry.expired(now)):
            typer.echo(str(entry.path))


@plans_app.command("prune-expired")
def _plans_prune_expired(
    directory: Annotated[Path, typer.Argument(help="The directory of plan files.")] = Path("plans"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be removed.")] = False,
    target: PlansTarget = None,
    targets_file: TargetsFile = Path("targets.yaml"),
) -> None:
    """Remove the plan files that have expired, printing each removed path."""
    from ecrgc.commands import plans as plans_command

    listed = _listed(directory, target, targets_file)
    for entry in plans_command.run_prune_expired(
        directory, now=datetime.now(UTC), dry_run=dry_run, listed=listed
    ):
        typer.echo(str(entry.path))


def _listed(directory: Path, target: str | None, targets_file: Path) -> "list[PlanFile] | None":
    """With --target: that target's plans, each checked to bind to it; else None (the directory's own)."""
    from ecrgc.commands.targets import run_target_list
    from ecrgc.targets import load_targets

    return None if target is None else run_target_list(directory, load_targets(targets_file), target)
