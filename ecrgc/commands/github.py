"""`ecrgc github comment` and `ecrgc github summary`: publish a rendering to a pull request or a job summary.

The sticky comment is found by a hidden marker at the start of its body *and* by its author being the
token's identity, so another workflow's (or a person's) comment that quotes the marker is never edited —
unlike `gh pr comment --edit-last`, which edits the bot's last comment whatever wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ecrgc.errors import UsageError

if TYPE_CHECKING:  # the client (and PyGithub) is imported only by the commands that talk to GitHub
    from ecrgc.github import Comment, PullRequestRef
    from ecrgc.render.sections_markdown import Section

COMMENT_LIMIT = 65_536
"""GitHub rejects comment bodies over this many characters ("Body is too long")."""
SUMMARY_LIMIT = 1_048_576
"""$GITHUB_STEP_SUMMARY: up to 1 MiB per step; over that GitHub drops the upload silently."""
DEFAULT_MARKER = "ecrgc:plan"
_SEPARATOR = "\n\n---\n\n"
_ECRGC_MARKER = re.compile(r"^<!-- ecrgc:[^>]*-->[ \t]*\n?", re.MULTILINE)
_CUT_NOTE = "_Shortened to each plan's verdict: the full renderings are in the workflow run's job summary._\n"
_MARKER = re.compile(r"[A-Za-z0-9:._-]+")
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


class CommentStore(Protocol):
    """What `run_comment` needs from GitHub (`ecrgc.github.GitHub` provides it)."""

    def login(self) -> str: ...
    def issue_comments(self, repo: str, number: int) -> Iterable[Comment]: ...
    def create_comment(self, repo: str, number: int, body: str) -> Comment: ...
    def update_comment(self, repo: str, number: int, comment_id: int, body: str) -> Comment: ...
    def pulls_for_commit(self, repo: str, sha: str) -> list[PullRequestRef]: ...


class CommentAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True, kw_only=True)
class CommentResult:
    """What `run_comment` did: the CLI prints the action and the comment's URL."""

    action: CommentAction
    comment: Comment
    pull_request: int


def marker_line(marker: str) -> str:
    """The hidden HTML comment that identifies the sticky comment: `<!-- ecrgc:plan -->`."""
    if not _MARKER.fullmatch(marker):
        raise UsageError(f"--marker: {marker!r} may only hold letters, digits and `:._-`, e.g. ecrgc:plan")
    return f"<!-- {marker} -->"


def compose_body(parts: Sequence[str], *, marker: str, sources: Sequence[str]) -> str:
    """The comment body: our marker line, then each part; refused (one line) when over GitHub's limit.

    The parts' own `<!-- ecrgc:… -->` markers (the renderer writes one) are dropped, so the body holds
    exactly one. With several parts that together are too long, each part is cut to its first two lines
    (a workflow's title line and the renderer's verdict, which is never truncated) with a note pointing at
    the job summary, which keeps the full renderings.
    """
    head = marker_line(marker) + "\n"
    cleaned = [_ECRGC_MARKER.sub("", part).strip("\n") for part in parts]
    body = head + _SEPARATOR.join(cleaned) + "\n"
    if len(body) <= COMMENT_LIMIT:
        return body
    if len(parts) > 1:
        heads = ["\n".join([line for line in part.splitlines() if line.strip()][:2]) for part in cleaned]
        short = head + "\n\n".join(heads) + "\n\n" + _CUT_NOTE
        if len(short) <= COMMENT_LIMIT:
            return short
    raise UsageError(
        f"{', '.join(sources)}: comment body is {len(body):,} characters, over GitHub's {COMMENT_LIMIT:,}; "
        "render it with `ecrgc show --format markdown`, which stays under 60,000"
    )


def sections_body(
    sections: Sequence[Section], parts: Sequence[str], *, marker: str, limit: int, run_url: str | None
) -> str:
    """The body of a comment (or job summary) of several plans: our marker line, `parts` (lines said once
    for all plans; their own markers dropped), every plan's verdict, then a section per plan, within
    `limit` (shrunk across the sections: the largest per-image lists first, never the in-use tables)."""
    # The renderer loads the model's plan machinery: only the commands that render pay for it.
    from ecrgc.render.sections_markdown import sections_markdown  # noqa: PLC0415

    for section in sections:
        if "\n" in section.title or not section.title.strip():
            raise UsageError(f"--title: {section.title!r} must be one non-empty line of Markdown")
    said = [cleaned for part in parts if (cleaned := _ECRGC_MARKER.sub("", part).strip("\n"))]
    head = [marker_line(marker) + "".join(f"\n{line}" for line in said[:1]), *said[1:]]
    try:
        return sections_markdown(sections, head=head, limit=limit, run_url=run_url)
    except ValueError:
        raise UsageError(
            f"{len(sections)} plans: not even their verdict lines fit in {limit:,} characters;"
            " post fewer plans per comment"
        ) from None


def read_bodies(paths: Sequence[Path]) -> list[str]:
    """The text of each body file; a missing or unreadable one is a one-line usage error."""
    if not paths:
        raise UsageError(
            "no --body-file given: pass the Markdown to post, e.g. from `ecrgc show --format markdown`"
        )
    try:
        return [path.read_text(encoding="utf-8") for path in paths]
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--body-file: cannot read {getattr(exc, 'filename', '') or paths}: {exc}") from None


def check_repo(repo: str) -> str:
    """`OWNER/NAME`, as --repo or GITHUB_REPOSITORY gives it."""
    if not _REPO.fullmatch(repo):
        raise UsageError(f"--repo: {repo!r} is not OWNER/NAME; pass --repo or set GITHUB_REPOSITORY")
    return repo


def run_comment(
    store: CommentStore, *, repo: str, pull_request: int, body: str, marker: str, author: str | None = None
) -> CommentResult:
    """Update the sticky comment (the first one with the marker written by `author`) or create it."""
    author = author or store.login()
    head = marker_line(marker)
    for existing in store.issue_comments(repo, pull_request):
        if existing.author == author and existing.body.startswith(head):
            updated = store.update_comment(repo, pull_request, existing.id, body)
            return CommentResult(action=CommentAction.UPDATED, comment=updated, pull_request=pull_request)
    created = store.create_comment(repo, pull_request, body)
    return CommentResult(action=CommentAction.CREATED, comment=created, pull_request=pull_request)


def pull_request_for_commit(store: CommentStore, *, repo: str, sha: str) -> int | None:
    """The pull request that `sha` merged (its merge commit), else the first one containing it, else None."""
    pulls = store.pulls_for_commit(repo, sha)
    chosen = [p for p in pulls if p.merge_commit_sha == sha] or pulls
    return chosen[0].number if chosen else None


@dataclass(frozen=True, slots=True, kw_only=True)
class SummaryResult:
    """What `run_summary` wrote: `written` bytes, and whether the body had to be cut."""

    path: Path
    written: int
    truncated: bool


def run_summary(summary_path: Path, body: str, *, source: str) -> SummaryResult:
    """Append `body` to the job summary if the file stays within 1 MiB, else a cut version with a note."""
    used = summary_path.stat().st_size if summary_path.exists() else 0
    data = body.encode()
    truncated = used + len(data) > SUMMARY_LIMIT
    if truncated:
        note = f"\n> **Truncated** to fit GitHub's 1 MiB job summary: the full text is `{source}`.\n"
        data = _cut_at_line(data, SUMMARY_LIMIT - used - len(note.encode())) + note.encode()
        if used + len(data) > SUMMARY_LIMIT:
            raise UsageError(
                f"{summary_path}: the job summary is already {used:,} bytes, no room left under 1 MiB"
            )
    with summary_path.open("ab") as out:
        out.write(data)
    return SummaryResult(path=summary_path, written=len(data), truncated=truncated)


def _cut_at_line(data: bytes, limit: int) -> bytes:
    """The longest prefix of whole lines within `limit` bytes: no UTF-8 character or table row is split."""
    if limit <= 0:
        return b""
    cut = data[:limit]
    end = cut.rfind(b"\n")
    return cut[: end + 1] if end >= 0 else b""
