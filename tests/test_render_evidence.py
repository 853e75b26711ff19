"""The words for each kind of evidence, and for decisions the core made."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecrgc.decide import decide
from ecrgc.model import (
    Ages,
    Evidence,
    HeldBy,
    ImageStatus,
    ListsInUse,
    MaybeChildOf,
    Newest,
    PartOf,
    Reason,
    Relation,
    Repository,
    UsedBy,
)
from ecrgc.render.evidence import age, decision_words, evidence_words
from tests import strategies as s
from tests.test_decide import image, policy, usage

DAY, HOUR = 86_400, 3_600
WINDOWS = policy(older_than=timedelta(days=30), not_pulled_for=timedelta(hours=100))


@pytest.mark.parametrize(
    ("reason", "evidence", "words"),
    [
        (Reason.IN_USE, UsedBy(("a",)), "in use by a"),
        (Reason.IN_USE, UsedBy(("a", "b", "c", "d", "e")), "in use by a, b, c and 2 more"),
        (Reason.IN_USE, ListsInUse("sha256:c", ("a", "b")), "lists sha256:c, in use by a, b"),
        (Reason.PART_OF_KEPT_IMAGE, PartOf("sha256:p", Relation.LISTED), "listed by kept index sha256:p"),
        (Reason.PART_OF_KEPT_IMAGE, PartOf("sha256:p", Relation.ATTACHED), "attached to kept image sha256:p"),
        (Reason.WITH_PARENT, PartOf("sha256:p", Relation.LISTED), "listed by index sha256:p, which goes"),
        (Reason.WITH_PARENT, PartOf("sha256:p", Relation.ATTACHED), "attached to image sha256:p, which goes"),
        (
            Reason.PART_OF_KEPT_IMAGE,
            MaybeChildOf("sha256:i", ImageStatus.ARCHIVED),
            "may be a child of kept index sha256:i (archived: its manifest cannot be read)",
        ),
        (Reason.HELD_TAG, HeldBy("^prod", ("prod-0",), False), "tag 'prod-0' matches hold pattern '^prod'"),
        (
            Reason.HELD_TAG,
            HeldBy("2\\.8&&rc", ("2.87", "rc"), True),
            "tags '2.87', 'rc' together match hold pattern '2\\\\.8&&rc'",
        ),
        (Reason.NEWEST_N, Newest(2, 3, 3), "#2 of 3 newest (keepLatest 3)"),
        (Reason.NEWEST_N, Newest(1, 1, 5), "#1 of 1 newest (keepLatest 5)"),
        (Reason.TOO_YOUNG, Ages(36 * HOUR, None), "pushed 36h ago, younger than 30d"),
        (Reason.TOO_YOUNG, Ages(-HOUR, None), "pushed 0h ago, younger than 30d"),
        (Reason.RECENTLY_PULLED, Ages(400 * DAY, 3 * DAY), "last pulled 3d ago, within 4d"),
        (Reason.RECENTLY_PULLED, Ages(2 * DAY, None), "pushed 2d ago, not pulled since, within 4d"),
        (Reason.RECENTLY_PULLED, Ages(2 * DAY, 9 * DAY), "pushed 2d ago, not pulled since, within 4d"),
        (Reason.UNTAGGED_NOT_SELECTED, Ages(40 * DAY, None), "untagged, and the policy sets untagged: false"),
        (Reason.EXPIRED, Ages(400 * DAY, None), "pushed 400d ago, never pulled"),
        (Reason.EXPIRED, Ages(400 * DAY, 47 * HOUR), "pushed 400d ago, last pulled 47h ago"),
    ],
)
def test_each_kind_of_evidence_in_words(reason: Reason, evidence: Evidence, words: str) -> None:
    assert evidence_words(reason, evidence, policy=WINDOWS) == words


def test_an_image_left_archived_says_what_it_would_have_been_removed_for() -> None:
    expired = evidence_words(
        Reason.ALREADY_ARCHIVED, Ages(400 * DAY, None), policy=WINDOWS, status=ImageStatus.ACTIVATING
    )
    assert expired == "already activating; pushed 400d ago, never pulled"
    with_parent = evidence_words(
        Reason.ALREADY_ARCHIVED,
        PartOf("sha256:p", Relation.LISTED),
        policy=WINDOWS,
        status=ImageStatus.ARCHIVED,
    )
    assert with_parent == "already archived; listed by index sha256:p, which goes"


def test_a_window_the_policy_does_not_set_is_said_so() -> None:
    """A hand-edited plan may name a reason its policy cannot give."""
    assert evidence_words(Reason.TOO_YOUNG, Ages(HOUR, None), policy=policy()) == (
        "pushed 1h ago, younger than no limit"
    )


def test_ages_read_in_hours_below_two_days() -> None:
    assert [age(s) for s in (0, 3599, 3600, 47 * HOUR + 3599, 48 * HOUR, 400 * DAY)] == [
        "0h",
        "0h",
        "1h",
        "47h",
        "2d",
        "400d",
    ]


def test_the_words_of_decisions_the_core_made() -> None:
    pol = policy(keep_latest=2)
    images = (image("a", tags=("v1",), days=1), image("b", days=2), image("c", children=["d"]), image("d"))
    decisions = decide(Repository(name="app", images=images), usage(), pol, now=s.NOW)
    words = {d.image.digest: decision_words(d, pol) for d in decisions}
    assert [words[i.digest] for i in images] == [
        "#1 of 2 newest (keepLatest 2)",
        "#2 of 2 newest (keepLatest 2)",
        "pushed 400d ago, never pulled",
        f"listed by index {images[2].digest}, which goes",
    ]
