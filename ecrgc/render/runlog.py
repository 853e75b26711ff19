"""The lines of `ecrgc run`'s log that the seed's users know: every image scanned, with what ecrgc decided.

The seed (`cleaner.Run`) logged `Repository: …, Tags: […], Digest: …, PushedAt: …` for each image it
scanned; these lines keep that shape and add the decision and its evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from ecrgc.model import Decision, Policy
from ecrgc.planfile import format_timestamp
from ecrgc.render.evidence import decision_words
from ecrgc.render.facts import reason_label


def scanned_lines(policy: Policy, decisions: Sequence[Decision]) -> str:
    """One line per image of a repository, as the seed's scan list, plus the decision made by `policy` (no
    final newline)."""
    return "\n".join(_line(decision, policy) for decision in decisions)


def _line(decision: Decision, policy: Policy) -> str:
    image = decision.image
    return (
        f"[Scanned] Repository: {image.repository}, Tags: [{' '.join(image.tags)}], Digest: {image.digest},"
        f" PushedAt: {format_timestamp(image.pushed_at)} -> {decision.action.value}"
        f" ({reason_label(decision.reason)}: {decision_words(decision, policy)})"
    )
