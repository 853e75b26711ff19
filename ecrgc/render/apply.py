"""Views of an apply report: the human summary (text) and the PR comment (Markdown).

Skipped and failed images are what a reviewer must see, so they stay visible the longest when the comment
has to shrink: full lists → problems only → per-repository counts → the verdict alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import IntEnum
from functools import partial
from typing import assert_never

from ecrgc.apply.report import ApplyReport
from ecrgc.model import Outcome, OutcomeStatus
from ecrgc.planfile import format_timestamp
from ecrgc.render.markup import (
    code,
    first_fitting,
    markdown_table,
    plural,
    short_digest,
    shortened,
)
from ecrgc.render.table import text_table

MARKER = "<!-- ecrgc:apply -->"
"""Finds the sticky apply comment to update."""

DEFAULT_LIMIT = 60_000
_PROBLEMS = (OutcomeStatus.SKIPPED, OutcomeStatus.FAILED)


class Level(IntEnum):
    """How much of the report the comment shows, richest first."""

    FULL = 0
    PROBLEMS = 1
    COUNTS = 2
    VERDICT = 3


_LEFT_OUT = {
    Level.PROBLEMS: "the list of images applied is",
    Level.COUNTS: "the per-image lists are",
    Level.VERDICT: "the tables and the lists are",
}


def status_label(status: OutcomeStatus) -> str:
    """Human words for a status."""
    match status:
        case OutcomeStatus.DELETED:
            label = "deleted"
        case OutcomeStatus.ARCHIVED:
            label = "archived"
        case OutcomeStatus.ALREADY_ABSENT:
            label = "already absent"
        case OutcomeStatus.SKIPPED:
            label = "skipped"
        case OutcomeStatus.FAILED:
            label = "failed"
        case OutcomeStatus.WOULD_APPLY:
            label = "would be applied"
        case _:
            assert_never(status)
    return label


def report_verdict(report: ApplyReport) -> str:
    """`ecrgc apply: 1,200 deleted · 2 skipped · 1 failed` (non-zero statuses only)."""
    counts = [f"{n:,} {status_label(s)}" for s, n in report.counts().items() if n]
    head = "ecrgc apply (dry run)" if report.dry_run else "ecrgc apply"
    return f"{head}: {' · '.join(counts) or 'nothing to do'}"


def report_context(report: ApplyReport) -> str:
    """Which plan, and when (or that the apply did not finish)."""
    started = f"plan sha256 {report.plan_sha256[:12]} · started {format_timestamp(report.started_at)} · "
    if report.finished_at is None:
        return started + (
            "INCOMPLETE: the apply did not finish, so this lists what was done before it stopped "
            "(but for at most one call per worker); apply the same plan again to complete it"
        )
    seconds = (report.finished_at - report.started_at).total_seconds()
    return started + f"finished {format_timestamp(report.finished_at)} ({seconds:,.0f} s)"


def report_text(report: ApplyReport, *, width: int = 100, details: bool = False) -> str:
    """The human summary: verdict, counts per repository, every skipped or failed image and why;
    `details` adds one line per image applied."""
    parts = [report_verdict(report), report_context(report)]
    if report.outcomes:
        header, body = _count_rows(report.outcomes)
        parts.append(text_table(header, "l" + "r" * (len(header) - 1), body, width=width))
    if problems := [o for o in report.outcomes if o.status in _PROBLEMS]:
        parts.append("\n".join(_outcome_line(o) for o in problems))
    if details and (done := [o for o in report.outcomes if o.status not in _PROBLEMS]):
        parts.append("\n".join(_outcome_line(o) for o in done))
    return "\n\n".join(parts) + "\n"


def outcome_reason(outcome: Outcome) -> str:
    """`kept (in_use)`, `registry_error (ServerException)`, `parent_kept` … ("" when done as planned)."""
    text = "" if outcome.reason is None else str(outcome.reason)
    extra = str(outcome.kept_by or "") or outcome.code
    return f"{text} ({extra})" if text and extra else text or extra


def _outcome_line(outcome: Outcome) -> str:
    why = ": ".join(p for p in (outcome_reason(outcome), outcome.detail) if p)
    image = short_digest(outcome.digest) if outcome.digest else "(repository)"
    return f"{outcome.status} {outcome.repository} {image}" + (f" {why}" if why else "")


def _count_rows(outcomes: Sequence[Outcome]) -> tuple[list[str], list[list[str]]]:
    counts: dict[str, dict[OutcomeStatus, int]] = {}
    for outcome in outcomes:
        row = counts.setdefault(outcome.repository, {})
        row[outcome.status] = row.get(outcome.status, 0) + 1
    present = [s for s in OutcomeStatus if any(s in row for row in counts.values())]
    header = ["repository", *(status_label(s) for s in present)]
    body = [[name, *(f"{counts[name].get(s, 0):,}" for s in present)] for name in sorted(counts)]
    return header, body


def report_markdown(report: ApplyReport, *, limit: int = DEFAULT_LIMIT) -> str:
    """The PR comment for `report`, at most `limit` characters, its verdict on the first visible line."""
    counts = report.counts()
    mark = "❌" if counts[OutcomeStatus.FAILED] else "⚠️" if counts[OutcomeStatus.SKIPPED] else "✅"
    head = [MARKER, f"**{mark} {report_verdict(report)}**", report_context(report)]
    return first_fitting((_render(report, head, level, limit) for level in Level), limit)


def _render(report: ApplyReport, head: list[str], level: Level, limit: int) -> str:
    parts = list(head)
    if level is not Level.FULL:
        parts.append(
            shortened(
                _LEFT_OUT[level], limit, "The report file has every image: `ecrgc show REPORT --format text`."
            )
        )
    if level < Level.VERDICT and report.outcomes:
        header, body = _count_rows(report.outcomes)
        cell = partial(code, in_table=True)
        parts.append(
            markdown_table(header, "l" + "r" * (len(header) - 1), [[cell(r[0]), *r[1:]] for r in body])
        )
    if level < Level.COUNTS:
        parts.extend(_outcome_tables(report, with_done=level is Level.FULL))
    return "\n\n".join(parts) + "\n"


def _outcome_tables(report: ApplyReport, *, with_done: bool) -> Iterator[str]:
    if problems := [o for o in report.outcomes if o.status in _PROBLEMS]:
        yield "Skipped or failed, and why:\n\n" + _outcome_table(problems)
    if with_done and (done := [o for o in report.outcomes if o.status not in _PROBLEMS]):
        table = _outcome_table(done)
        yield f"<details><summary>The other {plural(len(done), 'image')}</summary>\n\n{table}\n\n</details>"


def _outcome_table(outcomes: list[Outcome]) -> str:
    cell = partial(code, in_table=True)
    rows = [
        [
            cell(o.repository),
            cell(short_digest(o.digest)) if o.digest else "(repository)",
            status_label(o.status),
            cell(outcome_reason(o)) if outcome_reason(o) else "",
            cell(o.detail) if o.detail else "",
        ]
        for o in outcomes
    ]
    return markdown_table(["repository", "image", "status", "reason", "detail"], "lllll", rows)
