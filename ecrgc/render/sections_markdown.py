"""Several plans in one pull-request comment (one section per target of targets.yaml, or per plan file).

The comment opens with every section's verdict, one line each, then each section: its title, the plan's
rendering as `plan_markdown` makes it, after a rule. It shrinks across sections as one plan's comment does:
the per-image lists go first, largest first whichever section they are in, then every section drops to its
per-repository counts, then to totals, then to the verdict; the in-use tables stay as long as anything but
the verdicts does, and the verdict lines at the top are never left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ecrgc.model import Plan, PolicyMatch
from ecrgc.render.markup import first_fitting
from ecrgc.render.plan_markdown import DEFAULT_LIMIT, Piece, candidates


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """One plan under a title: a line of Markdown its caller made safe (the workflows name the target, the
    plan file in a code span and its check's outcome)."""

    title: str
    plan: Plan
    matches: Mapping[str, PolicyMatch] | None = None


def sections_markdown(
    sections: Sequence[Section],
    *,
    head: Sequence[str] = (),
    limit: int = DEFAULT_LIMIT,
    run_url: str | None = None,
) -> str:
    """`head` (the marker, lines said once for all plans), every section's verdict, then the sections; at
    most `limit` characters. Raises ValueError when not even the verdicts fit."""
    pieces = [
        Piece.of(s.plan, limit=limit, run_url=run_url, matches=s.matches, title=f"#### {s.title}")
        for s in sections
    ]
    verdicts = "\n".join(f"- {s.title}: {piece.verdict}" for s, piece in zip(sections, pieces, strict=True))
    top = [*head, verdicts]
    return first_fitting(candidates(top, pieces, limit, joints=[["---"]] * len(pieces)), limit)
