"""The plan as a pull-request comment: a hidden marker, the verdict, warnings, a table, collapsible lists.

GitHub rejects comments over 65,536 characters, so the comment never exceeds `limit`: it degrades in steps
(every per-image list → the lists of the largest repositories left out, largest first → per-repository
counts → totals → the verdict alone), says so, and never drops the verdict; the table of images in use
stays as long as anything but the verdict does. The job summary (1 MiB) gets the same rendering with a
larger `limit`, so it shows every list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from enum import IntEnum
from functools import partial
from itertools import groupby

import msgspec

from ecrgc.model import Plan, PlannedAction, PolicyMatch, PolicyRecord
from ecrgc.render import facts
from ecrgc.render.markup import (
    code,
    first_fitting,
    html,
    markdown_table,
    plural,
    second,
    short_digest,
    shortened,
    size,
)
from ecrgc.render.plan import context_line, replication_note

MARKER = "<!-- ecrgc:plan -->"
"""Finds the sticky comment to update (with the commenter's identity)."""

DEFAULT_LIMIT = 60_000  # GitHub's hard limit is 65,536; the rest is headroom for a wrapper's own text
MAX_ALERTS = 20
_MIN_ROW = 60


class Level(IntEnum):
    """How much of the plan the comment shows once no per-image list fits, richest first."""

    COUNTS = 1
    TOTALS = 2
    VERDICT = 3


_LEFT_OUT = {
    Level.COUNTS: "the per-image lists are",
    Level.TOTALS: "the per-repository table and the per-image lists are",
    Level.VERDICT: "the warnings, the tables and the lists are",
}


def plan_markdown(
    plan: Plan,
    *,
    limit: int = DEFAULT_LIMIT,
    sha256: str | None = None,
    run_url: str | None = None,
    matches: Mapping[str, PolicyMatch] | None = None,
) -> str:
    """The PR comment for `plan`, at most `limit` characters, its verdict on the first visible line.
    `run_url`: the CI run that rendered it (its job summary has the full rendering), linked in the footer.
    `matches`: how each embedded policy compares with the repository's, when the caller compared them."""
    piece = Piece.of(plan, limit=limit, sha256=sha256, run_url=run_url, matches=matches)
    return first_fitting(candidates([MARKER], [piece], limit), limit)


class Piece(msgspec.Struct, frozen=True):
    """One plan's rendering in parts, so that a document of several plans can shrink them together."""

    plan: Plan
    table: list[facts.Row]
    verdict: str
    head: list[str]
    """The title (if any), the verdict (never left out) and the context line."""
    rest: list[str]
    lists: dict[str, tuple[int, str | None]]
    """Per repository: how many images its collapsible list shows, and the list (None: too long to be
    shown in any rendering, so never built)."""
    protected: list[str]
    footer: str

    @classmethod
    def of(
        cls,
        plan: Plan,
        *,
        limit: int,
        sha256: str | None = None,
        run_url: str | None = None,
        matches: Mapping[str, PolicyMatch] | None = None,
        title: str | None = None,
    ) -> Piece:
        table = facts.rows(plan)
        lists = _image_lists(plan, table, limit)
        verdict = f"**{facts.verdict(facts.totals(table))}**"
        return cls(
            plan=plan,
            table=table,
            verdict=verdict,
            head=[
                *([title] if title else []),
                verdict,
                context_line(plan, sha256=sha256),
                *[note for note in [replication_note(plan, code)] if note],
            ],
            rest=[p for p in [*_alerts(plan, table), _table(table)] if p],
            lists=lists,
            protected=list(_protected(plan)),
            footer=_footer(plan, run_url, matches),
        )

    def fixed(self) -> int:
        """The characters (with their separators) of the parts every list-bearing rendering shows."""
        return sum(len(p) + 2 for p in [*self.head, *self.rest, *self.protected, self.footer])

    def with_lists(self, left_out: list[str], limit: int) -> list[str]:
        """The parts with every list but those of `left_out` (the rest are built), and a note naming them."""
        note = [_left_out_note(left_out, limit)] if left_out else []
        gone = set(left_out)
        shown = [block for name, (_, block) in self.lists.items() if name not in gone and block]
        return [*self.head, *note, *self.rest, *shown, *self.protected, self.footer]

    def note_size(self, left_out: list[str], limit: int) -> int:
        return len(_left_out_note(left_out, limit)) + 2 if left_out else 0

    def at(self, level: Level, limit: int) -> list[str]:
        """The parts without any per-image list, at `level`."""
        parts = [*self.head, shortened(_LEFT_OUT[level], limit, _WHERE)]
        if level < Level.VERDICT:
            parts.extend(_alerts(self.plan, self.table))
            parts.append(_totals(facts.totals(self.table)) if level is Level.TOTALS else _table(self.table))
            parts.extend(self.protected)
            parts.append(self.footer)
        return parts


def candidates(
    head: list[str], pieces: list[Piece], limit: int, joints: Sequence[list[str]] = ()
) -> Iterator[str]:
    """Every rendering of `head` and the pieces, richest first: all lists, then the largest repositories'
    lists (of any piece) left out one by one (each rendering is built only if it fits), then every piece at
    the levels without lists. `joints[i]` goes before piece i (a separator); the in-use tables stay."""
    between = [list(joints[i]) if i < len(joints) else [] for i in range(len(pieces))]
    # Largest first: the most images, then the last piece's and the last names' (so the first ones stay
    # shown), an order known before any list is built.
    order = sorted(
        sorted(((i, name) for i, piece in enumerate(pieces) for name in piece.lists), reverse=True),
        key=lambda key: -pieces[key[0]].lists[key[1]][0],
    )
    blocks = [pieces[i].lists[name][1] for i, name in order]
    fixed = sum(len(p) + 2 for p in [*head, *(p for parts in between for p in parts)])
    fixed += sum(piece.fixed() for piece in pieces)
    kept = sum(len(block) + 2 for block in blocks if block is not None)
    unbuilt = sum(block is None for block in blocks)  # a rendering showing one would not fit
    left_out: list[list[str]] = [[] for _ in pieces]
    for dropped in range(len(order) + 1):
        # With every list left out, the COUNTS level below says so more briefly.
        if not unbuilt and (dropped < len(order) or not any(left_out)):
            notes = sum(piece.note_size(left_out[i], limit) for i, piece in enumerate(pieces))
            if fixed + kept + notes <= limit + 1:
                yield _joined(
                    [
                        *head,
                        *(
                            p
                            for i, piece in enumerate(pieces)
                            for p in [*between[i], *piece.with_lists(left_out[i], limit)]
                        ),
                    ]
                )
        if dropped < len(order):
            i, name = order[dropped]
            left_out[i].append(name)
            if (block := blocks[dropped]) is None:
                unbuilt -= 1
            else:
                kept -= len(block) + 2
    for level in (Level.COUNTS, Level.TOTALS, Level.VERDICT):
        yield _joined(
            [*head, *(p for i, piece in enumerate(pieces) for p in [*between[i], *piece.at(level, limit)])]
        )


def _left_out_note(repositories: list[str], limit: int) -> str:
    names = ", ".join(code(name) for name in repositories[:5])
    more = f" and {len(repositories) - 5:,} more" if len(repositories) > 5 else ""
    count = plural(len(repositories), "repository", "repositories")
    return shortened(f"the per-image lists of {count} ({names}{more}) are", limit, _WHERE)


_WHERE = (
    "The workflow run's job summary has every list; "
    "`ecrgc show PLAN --images` lists every image, kept ones too, with its action and why."
)


def _joined(parts: list[str]) -> str:
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


def _image_lists(plan: Plan, table: list[facts.Row], limit: int) -> dict[str, tuple[int, str | None]]:
    """Per repository with actions (in the table's order): how many images its collapsible list shows,
    and the list, or None where it cannot be shown within `limit`, left unbuilt.

    Every row is longer than _MIN_ROW characters, and a rendering that shows a list shows every list
    with fewer images too (`candidates` leaves out the most images first), so a list whose rows and
    those of every list with fewer images exceed `limit` is never shown: of a 1,000,000-action plan only
    the few hundred rows a comment can hold are built.
    """
    counts = {row.repository: row.deleted + row.archived for row in table if row.deleted or row.archived}
    shown: set[str] = set()
    fewer = 0  # the rows of the lists with fewer images than the ones at hand
    for count, names in groupby(sorted(counts, key=counts.__getitem__), key=counts.__getitem__):
        group = list(names)
        if (fewer + count) * _MIN_ROW <= limit:
            shown.update(group)
        fewer += count * len(group)
    actions = _actions_of(plan.actions, shown)
    return {
        name: (
            count,
            _details(
                f"{html(name)}: {facts.removals(row.deleted, row.archived)}", _image_table(actions[name])
            )
            if name in shown and actions.get(name)
            else None,
        )
        for row in table
        if (count := counts.get(name := row.repository, 0))
    }


def _actions_of(actions: Sequence[PlannedAction], names: set[str]) -> dict[str, list[PlannedAction]]:
    """The actions of the repositories `names`, by repository."""
    if isinstance(actions, facts.ImagesByRepository):
        return {name: list(actions.of_repository(name)) for name in names}
    found: dict[str, list[PlannedAction]] = {}
    for action in actions:
        if action.repository in names:
            found.setdefault(action.repository, []).append(action)
    return found


def _image_table(actions: list[PlannedAction]) -> str:
    """One row per image, oldest push first, with its tags and UTC times to the second."""
    cell = partial(code, in_table=True)
    rows = [
        [
            cell(short_digest(a.digest)),
            " ".join(cell(t) for t in a.tags),
            second(a.pushed_at),
            second(a.last_pulled_at),
            size(a.size_bytes),
            str(a.action),
            f"with {cell(short_digest(a.parent))}" if a.parent else facts.reason_label(a.reason),
        ]
        for a in sorted(actions, key=lambda a: (a.pushed_at, a.digest))
    ]
    header = ["image", "tags", "pushed (UTC)", "last pulled (UTC)", "size", "action", "why"]
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


def _policy(record: PolicyRecord, matches: Mapping[str, PolicyMatch] | None) -> str:
    """`web` `5ce56ac9ff40`, and with the comparison: ✅ the same as the repository's, or ❌ not."""
    if matches is None:
        return f"{code(record.name)} `{record.sha256[:12]}`"
    mark = "✅" if matches.get(record.name) is PolicyMatch.MATCHES else "❌"
    return f"{code(record.name)} {mark} {facts.policy_line(record, matches)}"


def _details(summary: str, body: str) -> str:
    # Blank lines around the body: GitHub parses Markdown inside <details> only after one.
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _footer(plan: Plan, run_url: str | None, matches: Mapping[str, PolicyMatch] | None) -> str:
    policies = ", ".join(_policy(p, matches) for p in plan.policies[:10]) or "none"
    if len(plan.policies) > 10:
        policies += f" and {len(plan.policies) - 10:,} more"
    run = f" · [the CI run]({run_url}) has the full rendering in its job summary" if run_url else ""
    inputs = "".join(f"<br>{facts.input_figures(i, code)}" for i in plan.inputs[:10])
    if len(plan.inputs) > 10:
        inputs += f"<br>… and {len(plan.inputs) - 10:,} more inputs"
    return (
        f"<sub>Policies: {policies} · {plural(len(plan.inputs), 'input')} read{run}.{inputs}<br>"
        "Sizes as ECR reports them (layers shared with kept images count too); "
        "saving at $0.10 per GB-month, GB = 10⁹ bytes.</sub>"
    )
