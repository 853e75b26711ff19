"""Apply's preconditions: does a planned action still hold against the live repository and current usage?

PURE, like `decide` (which it re-runs on the live state: one set of rules, two moments). A planned action
passes when its digest is still there with the tags the plan recorded, the relation the plan claims for it
(its `parent`) holds in the live repository, and deciding the live repository afresh removes it the same
way. The plan's claims can only make an action fail: relations are the live repository's, never the plan's.
`live` must be the whole repository as it is now: rules such as NEWEST_N rank every top-level image, so a
partial view would rank the wrong ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ecrgc.decide import InUse, decide
from ecrgc.model import Decision, Image, PlannedAction, Policy, Reason, Repository


class Verdict(StrEnum):
    """The result of checking one planned action; apply leaves alone every image whose verdict is not OK."""

    OK = "ok"
    GONE = "gone"
    """The digest is no longer in the repository: apply reports it as already absent."""
    TAGS_CHANGED = "tags_changed"
    """A tag moved onto the image or away from it since the plan (a held tag may have appeared)."""
    RELATION_CHANGED = "relation_changed"
    """The plan says the image goes with a parent that is in the repository but neither lists it nor is its
    subject: the claim is false (a hand-edited plan) or the registry changed."""
    NOT_SELECTED = "not_selected"
    """No policy of the repository selects the image's repository for the policy the plan names (set by
    apply's verification, which picks the policy: `verify` is given one)."""
    KEPT = "kept"
    """Deciding the live state keeps the image; `reason` says why (in use, held, part of a kept image …)."""
    ACTION_CHANGED = "action_changed"
    """Deciding the live state removes the image another way than planned (delete vs archive)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """The verdict on one planned action; `reason` is the live decision's reason when it keeps the image.
    `detail` says what changed; when the verdict is the live decision's (KEPT, ACTION_CHANGED, OK), `live`
    is that decision, whose evidence says why."""

    action: PlannedAction
    verdict: Verdict
    reason: Reason | None = None
    detail: str = ""
    live: Decision | None = None


def verify(
    planned: Sequence[PlannedAction], live: Repository, in_use: InUse, policy: Policy, *, now: datetime
) -> tuple[Check, ...]:
    """One Check per planned action of `live`'s repository, in the order given."""
    decisions = {decision.image.digest: decision for decision in decide(live, in_use, policy, now=now)}
    images = {image.digest: image for image in live.images}
    return tuple(_check(action, live.name, decisions.get(action.digest), images) for action in planned)


def _check(
    action: PlannedAction, repository: str, live: Decision | None, images: Mapping[str, Image]
) -> Check:
    if action.repository != repository:
        raise ValueError(f"planned action for {action.repository} checked against {repository}")
    if live is None:
        return Check(
            action=action, verdict=Verdict.GONE, detail=f"{action.digest} is no longer in {repository}"
        )
    if set(live.image.tags) != set(action.tags):
        return Check(action=action, verdict=Verdict.TAGS_CHANGED, detail=_tag_change(action, live))
    if not _relation_holds(action, live.image, images):
        detail = f"the plan says it goes with {action.parent}, which neither lists it nor is its subject"
        return Check(action=action, verdict=Verdict.RELATION_CHANGED, detail=detail)
    if live.reason.keeps:
        return Check(action=action, verdict=Verdict.KEPT, reason=live.reason, live=live)
    if live.action != action.action:
        detail = f"planned {action.action}, the live state says {live.action}"
        return Check(
            action=action, verdict=Verdict.ACTION_CHANGED, reason=live.reason, detail=detail, live=live
        )
    return Check(action=action, verdict=Verdict.OK, reason=live.reason, live=live)


def _relation_holds(action: PlannedAction, image: Image, images: Mapping[str, Image]) -> bool:
    """The claimed parent lists the image or is its subject; a parent no longer there claims nothing (an
    earlier apply of the plan may have deleted it): the fresh decision then judges the image on its own."""
    parent = images.get(action.parent) if action.parent else None
    return parent is None or action.digest in parent.children or image.referent == parent.digest


def _tag_change(action: PlannedAction, live: Decision) -> str:
    added = sorted(set(live.image.tags) - set(action.tags))
    removed = sorted(set(action.tags) - set(live.image.tags))
    parts = [f"tagged {', '.join(added)} since the plan"] if added else []
    parts += [f"lost {', '.join(removed)}"] if removed else []
    return "; ".join(parts)
