"""The plan as a pull-request comment: a hidden marker, the verdict, warnings, a table, collapsible lists.

GitHub rejects comments over 65,536 characters, so the comment never exceeds `limit`: it degrades in steps
(full lists → per-repository counts → totals → the verdict alone), says so, and never drops the verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum
from functools import partial

from ecrgc.model import Plan, PlannedAction
from ecrgc.render import facts
from ecrgc.render.markup import (
    code,
    day,
    first_fitting,
    html,
    markdown_table,
    plural,
    short_digest,
    shortened,
    size,
)
from ecrgc.render.plan import context_line

MARKER = "<!-- ecrgc:plan -->"
"""Finds the sticky comment to update (with the commenter's identity)."""

DEFAULT_LIMIT = 60_000  # GitHub's hard limit is 65,536; the rest is headroom for a wrapper's own text
MAX_ALERTS = 20
_MIN_ROW = 60


class Level(IntEnum):
    """How much of the plan the comment shows, richest first."""

    FULL = 0
    COUNTS = 1
    TOTALS = 2
    VERDICT = 3


_LEFT_OUT = {
    Level.COUNTS: "the per-image lists are",
    Level.TOTALS: "the per-repository table and the per-image lists are",
    Level.VERDICT: "the warnings, the tables and the lists are",
}


def plan_markdown(plan: Plan, *, limit: int = DEFAULT_LIMIT, sha256: str | None = None) -> str:
    """The PR comment for `plan`, at most `limit` characters, its verdict on the first visible line."""
    table = facts.rows(plan)
    head = [MARKER, f"**{facts.verdict(facts.totals(table))}**", context_line(plan, sha256=sha256)]
    # Skip rendering what cannot fit: every per-image row is longer than _MIN_ROW characters.
    levels = [level for level in Level if level is not Level.FULL or len(plan.actions) * _MIN_ROW <= limit]
    return first_fitting((_render(plan, table, head, level, limit) for level in levels), limit)


def _render(plan: Plan, table: list[facts.Row], head: list[str], level: Level, limit: int) -> str:
    total = facts.totals(table)
    parts = list(head)
    if level is not Level.FULL:
        parts.append(
            shortened(
                _LEFT_OUT[level], limit, "The plan file lists every image: `ecrgc show PLAN --format text`."
            )
        )
    if level < Level.VERDICT:
        parts.extend(_alerts(plan, table))
        parts.append(_totals(total) if level is Level.TOTALS else _table(table))
    if level is Level.FULL:
        parts.extend(_image_lists(plan, table))
        parts.extend(_protected(plan))
    if level < Level.VERDICT:
        parts.append(_footer(plan))
    return "\n\n".join(p for p in parts if p) + "\n"


def _alerts(plan: Plan, table: list[facts.Row]) -> Iterator[str]:
    found = facts.alerts(plan, table)
    if not found:
        return
    lines = [f"> - ⚠️ {facts.alert_text(a, code)}" for a in found[:MAX_ALERTS]]
    if len(found) > MAX_ALERTS:
        lines.append(f"> - ⚠️ … and {len(found) - MAX_ALERTS:,} more warnings (see `ecrgc show PLAN`)")
    yield "\n".join(["> [!CAUTION]", *lines])


def _table(table: list[facts.Row]) -> str:
    changed = [r for r in table if r.changed]
    unchanged = [r for r in table if not r.changed]
    cell = partial(code, in_table=True)
    body = [
        [
            cell(r.repository) + (" (deleted)" if r.delete_repository else ""),
            cell(r.policy) if r.policy else "",
            f"{r.scanned:,}",
            f"{r.deleted:,}",
            f"{r.archived:,}",
            size(r.freed),
            facts.kept_breakdown(r.kept),
        ]
        for r in changed
    ]
    header = ["repository", "policy", "scanned", "delete", "archive", "freed", "kept"]
    parts = [markdown_table(header, "llrrrrl", body)] if changed else []
    if unchanged:
        kept = sum(r.kept_total for r in unchanged)
        others = "other repository" if changed else "repository"
        parts.append(
            f"{plural(len(unchanged), others, others[:-1] + 'ies')} unchanged ({plural(kept, 'image')} kept)."
        )
    return "\n\n".join(parts)


def _totals(total: facts.Totals) -> str:
    return (
        f"Totals: {total.scanned:,} scanned · {total.deleted:,} to delete · {total.archived:,} to archive · "
        f"{size(total.freed)} freed · {total.in_use:,} in use · {total.kept_by_policy:,} kept by policy · "
        f"{plural(total.changed_repositories, 'repository', 'repositories')} changed."
    )


def _image_lists(plan: Plan, table: list[facts.Row]) -> Iterator[str]:
    by_repository: dict[str, list[PlannedAction]] = {}
    for action in plan.actions:
        by_repository.setdefault(action.repository, []).append(action)
    for row in table:
        if actions := by_repository.get(row.repository):
            counts = facts.removals(row.deleted, row.archived)
            yield _details(f"{html(row.repository)}: {counts}", _image_table(actions))


def _image_table(actions: list[PlannedAction]) -> str:
    cell = partial(code, in_table=True)
    rows = [
        [
            cell(short_digest(a.digest)),
            " ".join(cell(t) for t in a.tags),
            day(a.pushed_at),
            day(a.last_pulled_at),
            size(a.size_bytes),
            str(a.action),
            f"with {cell(short_digest(a.parent))}" if a.parent else facts.reason_label(a.reason),
        ]
        for a in actions
    ]
    header = ["image", "tags", "pushed", "last pulled", "size", "action", "why"]
    return markdown_table(header, "llllrll", rows)


def _protected(plan: Plan) -> Iterator[str]:
    if not plan.protected:
        return
    cell = partial(code, in_table=True)
    rows = [
        [
            cell(p.repository),
            cell(short_digest(p.digest)),
            " ".join(cell(t) for t in p.tags),
            _sources(p.sources),
        ]
        for p in plan.protected
    ]
    table = markdown_table(["repository", "image", "tags", "used by"], "llll", rows)
    yield _details(f"{plural(len(plan.protected), 'image')} in use, protected", table)


def _sources(sources: tuple[str, ...]) -> str:
    return "<br>".join(code(s, in_table=True) for s in sources)


def _details(summary: str, body: str) -> str:
    # Blank lines around the body: GitHub parses Markdown inside <details> only after one.
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _footer(plan: Plan) -> str:
    policies = ", ".join(f"{code(p.name)} `{p.sha256[:12]}`" for p in plan.policies[:10]) or "none"
    if len(plan.policies) > 10:
        policies += f" and {len(plan.policies) - 10:,} more"
    return (
        f"<sub>Policies: {policies} · {plural(len(plan.inputs), 'input')} read. "
        "Sizes as ECR reports them (layers shared with kept images count too); "
        "saving at $0.10 per GB-month, GB = 10⁹ bytes.</sub>"
    )
