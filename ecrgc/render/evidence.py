"""The words for a decision's evidence: "in use by a, b and 3 more", "#2 of 3 newest (keepLatest 3)".

The core records evidence as data (`model.Evidence`); this is the one place that words it, for every view
(the run log, apply's report of an image kept on verification, explain, show --images, the plan's in-use
list). Ages are the evidence's whole seconds, shown as a reviewer reads them: whole days from two days up,
else whole hours.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, assert_never

from ecrgc.model import (
    Ages,
    Decision,
    Evidence,
    HeldBy,
    ImageStatus,
    ListsInUse,
    MaybeChildOf,
    Newest,
    PartOf,
    Policy,
    Reason,
    Relation,
    UsedBy,
)

SOURCES_SHOWN = 3
"""How many sources `sources` names before "and N more"."""


def decision_words(decision: Decision, policy: Policy) -> str:
    """Why `decision` was made, in words (`policy` is the one that decided it: its windows are quoted)."""
    return evidence_words(decision.reason, decision.evidence, policy=policy, status=decision.image.status)


def evidence_words(
    reason: Reason, evidence: Evidence, *, policy: Policy, status: ImageStatus = ImageStatus.ACTIVE
) -> str:
    """Why an image (of `status`) got `reason`, from the evidence the decision recorded."""
    if reason is Reason.ALREADY_ARCHIVED:
        return f"already {status.lower()}; {evidence_words(_removed_for(evidence), evidence, policy=policy)}"
    match evidence:
        case UsedBy(sources=used_by):
            words = f"in use by {sources(used_by)}"
        case ListsInUse(child=child, sources=used_by):
            words = f"lists {child}, in use by {sources(used_by)}"
        case PartOf(parent=parent, relation=relation):
            words = _part_of(parent, relation, kept=reason is Reason.PART_OF_KEPT_IMAGE)
        case MaybeChildOf(index=index, status=unreadable):
            words = (
                f"may be a child of kept index {index} ({unreadable.lower()}: its manifest cannot be read)"
            )
        case HeldBy(pattern=pattern, tags=tags, together=True):
            words = f"tags {', '.join(map(repr, tags))} together match hold pattern {pattern!r}"
        case HeldBy(pattern=pattern, tags=tags):
            words = f"tag {tags[0]!r} matches hold pattern {pattern!r}"
        case Newest(rank=rank, of=of, keep_latest=keep_latest):
            words = f"#{rank} of {of} newest (keepLatest {keep_latest})"
        case Ages():
            words = _ages(reason, evidence, policy)
        case unreachable:  # pragma: no cover  # mypy proves every kind of evidence is handled above
            assert_never(unreachable)
    return words


def evidence_json(evidence: Evidence) -> dict[str, Any]:
    """The evidence as JSON data (`schemas/explain.schema.json`: `kind`, then the record's fields)."""
    match evidence:
        case UsedBy(sources=used_by):
            data: dict[str, Any] = {"kind": "used_by", "sources": list(used_by)}
        case ListsInUse(child=child, sources=used_by):
            data = {"kind": "lists_in_use", "child": child, "sources": list(used_by)}
        case PartOf(parent=parent, relation=relation):
            data = {"kind": "part_of", "parent": parent, "relation": relation.value}
        case MaybeChildOf(index=index, status=status):
            data = {"kind": "maybe_child_of", "index": index, "status": status.value}
        case HeldBy(pattern=pattern, tags=tags, together=together):
            data = {"kind": "held_by", "pattern": pattern, "tags": list(tags), "together": together}
        case Newest(rank=rank, of=of, keep_latest=keep_latest):
            data = {"kind": "newest", "rank": rank, "of": of, "keep_latest": keep_latest}
        case Ages(pushed=pushed, pulled=pulled):
            data = {"kind": "ages", "pushed_seconds": pushed, "pulled_seconds": pulled}
        case unreachable:  # pragma: no cover  # mypy proves every kind of evidence is handled above
            assert_never(unreachable)
    return data


def sources(names: tuple[str, ...], shown: int = SOURCES_SHOWN) -> str:
    """`a, b, c and 2 more`."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def age(seconds: int) -> str:
    """A duration as a reviewer reads it: `40d` from two days up, else `36h` (never below `0h`)."""
    hours = max(0, seconds // 3600)
    return f"{hours // 24}d" if hours >= 48 else f"{hours}h"


def _removed_for(evidence: Evidence) -> Reason:
    """The rule an image left archived would have been removed by: with its parent, or expired."""
    return Reason.WITH_PARENT if isinstance(evidence, PartOf) else Reason.EXPIRED


def _part_of(parent: str, relation: Relation, *, kept: bool) -> str:
    match relation:
        case Relation.LISTED:
            what = f"listed by {'kept ' if kept else ''}index {parent}"
        case Relation.ATTACHED:
            what = f"attached to {'kept ' if kept else ''}image {parent}"
        case unreachable:  # pragma: no cover  # mypy proves every Relation is handled above
            assert_never(unreachable)
    return what if kept else f"{what}, which goes"


def _ages(reason: Reason, ages: Ages, policy: Policy) -> str:
    pushed = f"pushed {age(ages.pushed)} ago"
    pulled = "never pulled" if ages.pulled is None else f"last pulled {age(ages.pulled)} ago"
    match reason:
        case Reason.TOO_YOUNG:
            return f"{pushed}, younger than {window(policy.older_than)}"
        case Reason.RECENTLY_PULLED:
            within = window(policy.not_pulled_for)
            # The rule judges by the later of push and pull: a pull before the push is older news.
            if ages.pulled is not None and ages.pulled <= ages.pushed:
                return f"{pulled}, within {within}"
            return f"{pushed}, not pulled since, within {within}"
        case Reason.UNTAGGED_NOT_SELECTED:
            return "untagged, and the policy sets untagged: false"
        case _:
            return f"{pushed}, {pulled}"


def window(duration: timedelta | None) -> str:
    """A policy's window (olderThan, notPulledFor) as `age` says it; `no limit` when it sets none."""
    return "no limit" if duration is None else age(duration // timedelta(seconds=1))
