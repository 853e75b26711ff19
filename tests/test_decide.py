"""The decision core: one case per Reason, their precedence, and invariants over random registries."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import structs

from ecrgc.decide import InUse, decide, in_use
from ecrgc.model import (
    Action,
    Ages,
    Decision,
    Evidence,
    HeldBy,
    Image,
    ImageStatus,
    ListsInUse,
    MaybeChildOf,
    Newest,
    PartOf,
    Policy,
    Reason,
    Relation,
    Repository,
    Usage,
    Use,
    UsedBy,
)
from ecrgc.patterns import compile_pattern
from ecrgc.refs import ecr_host, parse_list_reference, parse_reference
from tests import strategies as s

KEEP, DELETE, ARCHIVE = Action.KEEP, Action.DELETE, Action.ARCHIVE
HOST = ecr_host(s.ACCOUNT, s.REGION)


def digest(name: str) -> str:
    return f"sha256:{hashlib.sha256(name.encode()).hexdigest()}"


def image(name: str, *, tags: tuple[str, ...] = (), days: float = 400, **fields: Any) -> Image:
    """An image of repository `app` named `name`, pushed `days` ago; children/subject name other images."""
    fields["children"] = tuple(digest(child) for child in fields.get("children", ()))
    if "subject" in fields:
        fields["subject"] = digest(fields["subject"])
    if fields["children"]:
        fields.setdefault("media_type", s.INDEX)
    if "pulled" in fields:
        fields["last_pulled_at"] = s.NOW - timedelta(days=fields.pop("pulled"))
    return Image(
        repository="app", digest=digest(name), tags=tags, pushed_at=s.NOW - timedelta(days=days), **fields
    )


def cosign(subject: str) -> str:
    return f"{digest(subject).replace(':', '-')}.sig"


def policy(**fields: Any) -> Policy:
    defaults: dict[str, Any] = {"keep_latest": 0, "hold_tags": ("^prod",)}
    values = defaults | fields
    values["hold_tags"] = tuple(compile_pattern(p) for p in values["hold_tags"])
    return Policy(name="test", region=s.REGION, include=(compile_pattern("."),), **values)


def usage(*refs: str, source: str = "IMG_LIST/prd_IMG_LIST.txt:1") -> InUse:
    uses = tuple(Use(ref=parse_reference(ref), source=source) for ref in refs)
    return in_use(Usage(uses=uses), account=s.ACCOUNT, region=s.REGION)


def decided(
    images: list[Image], uses: InUse | None = None, **policy_fields: Any
) -> dict[str, tuple[Any, ...]]:
    """name -> (action, reason[, parent name]) for each image."""
    names = {digest(name): name for name in "abcdefghijklmnopqrstuvwxyz"}
    repository = Repository(name="app", images=tuple(images))
    result = decide(repository, uses or usage(), policy(**policy_fields), now=s.NOW)
    return {
        names[d.image.digest]: (d.action, d.reason, *([names[d.parent]] if d.parent else [])) for d in result
    }


CASES: list[tuple[str, list[Image], InUse | None, dict[str, Any], dict[str, tuple[Any, ...]]]] = [
    (
        "in use by digest",
        [image("a")],
        usage(f"{HOST}/other@{digest('a')}"),
        {},
        {"a": (KEEP, Reason.IN_USE)},
    ),
    ("in use by tag", [image("a", tags=("v1",))], usage(f"{HOST}/app:v1"), {}, {"a": (KEEP, Reason.IN_USE)}),
    (
        "no tag means latest",
        [image("a", tags=("latest",))],
        usage(f"{HOST}/app"),
        {},
        {"a": (KEEP, Reason.IN_USE)},
    ),
    (
        "a tag in use in another repository protects nothing here",
        [image("a", tags=("v1",))],
        usage(f"{HOST}/other:v1"),
        {},
        {"a": (DELETE, Reason.EXPIRED)},
    ),
    (
        "an index listing a running platform manifest, at any depth",
        [image("a", children=["b"]), image("b", children=["c", "d"]), image("c"), image("d")],
        usage(f"{HOST}/app@{digest('c')}"),
        {},
        {
            "a": (KEEP, Reason.IN_USE),
            "b": (KEEP, Reason.IN_USE),
            "c": (KEEP, Reason.IN_USE),
            "d": (KEEP, Reason.PART_OF_KEPT_IMAGE, "b"),
        },
    ),
    (
        "children and referrers of a kept index, transitively",
        [
            image("a", tags=("prod",), children=["b", "c"]),
            image("b"),
            image("c", children=["d"]),
            image("d"),
            image("e", subject="d"),
            image("f", tags=(cosign("a"),)),
        ],
        None,
        {},
        {
            "a": (KEEP, Reason.HELD_TAG),
            "b": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
            "c": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
            "d": (KEEP, Reason.PART_OF_KEPT_IMAGE, "c"),
            "e": (KEEP, Reason.PART_OF_KEPT_IMAGE, "d"),
            "f": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
        },
    ),
    ("held tag", [image("a", tags=("v1", "prod-7"))], None, {}, {"a": (KEEP, Reason.HELD_TAG)}),
    (
        "held by tags together: every && part of one OR part matches one of its tags",
        [image("a", tags=("2.87.0-rc1", "candidate")), image("b", tags=("candidate", "2.86.0"))],
        None,
        {"hold_tags": ("^x-ORcandidate&&2\\.87",)},
        {"a": (KEEP, Reason.HELD_TAG), "b": (DELETE, Reason.EXPIRED)},
    ),
    (
        "newest n, ties broken by digest",
        [image("a", days=3), image("b", days=3), image("c", days=1), image("d", days=9)],
        None,
        {"keep_latest": 2},
        {
            "a": (DELETE, Reason.EXPIRED) if digest("a") > digest("b") else (KEEP, Reason.NEWEST_N),
            "b": (DELETE, Reason.EXPIRED) if digest("b") > digest("a") else (KEEP, Reason.NEWEST_N),
            "c": (KEEP, Reason.NEWEST_N),
            "d": (DELETE, Reason.EXPIRED),
        },
    ),
    (
        "too young",
        [image("a", days=5), image("b", days=40)],
        None,
        {"older_than": timedelta(days=30)},
        {"a": (KEEP, Reason.TOO_YOUNG), "b": (DELETE, Reason.EXPIRED)},
    ),
    (
        "recently pulled, never pulled counting from the push",
        [image("a", pulled=3), image("b", days=2), image("c", pulled=100), image("d", days=10, pulled=400)],
        None,
        {"not_pulled_for": timedelta(days=30)},
        {
            "a": (KEEP, Reason.RECENTLY_PULLED),
            "b": (KEEP, Reason.RECENTLY_PULLED),
            "c": (DELETE, Reason.EXPIRED),
            "d": (KEEP, Reason.RECENTLY_PULLED),
        },
    ),
    (
        "untagged not selected, and not taking a newest-n place",
        [image("a", days=1), image("b", tags=("v1",), days=5), image("c", tags=("v2",), days=6)],
        None,
        {"untagged": False, "keep_latest": 1},
        {
            "a": (KEEP, Reason.UNTAGGED_NOT_SELECTED),
            "b": (KEEP, Reason.NEWEST_N),
            "c": (DELETE, Reason.EXPIRED),
        },
    ),
    (
        "already archived",
        [
            image("a", status=ImageStatus.ARCHIVED),
            image("b", status=ImageStatus.ACTIVATING),
            image("c", children=["d", "e"]),
            image("d"),
            image("e", status=ImageStatus.ARCHIVED),
        ],
        None,
        {"action": ARCHIVE},
        {
            "a": (KEEP, Reason.ALREADY_ARCHIVED),
            "b": (KEEP, Reason.ALREADY_ARCHIVED),
            "c": (ARCHIVE, Reason.EXPIRED),
            "d": (ARCHIVE, Reason.WITH_PARENT, "c"),
            "e": (KEEP, Reason.ALREADY_ARCHIVED, "c"),
        },
    ),
    (
        "expired: archived images are deleted when the policy deletes",
        [image("a"), image("b", status=ImageStatus.ARCHIVED)],
        None,
        {},
        {"a": (DELETE, Reason.EXPIRED), "b": (DELETE, Reason.EXPIRED)},
    ),
    (
        "with parent: children, nested children, OCI and cosign referrers",
        [
            image("a", children=["b", "c"]),
            image("b"),
            image("c", children=["d"]),
            image("d"),
            image("e", subject="a"),
            image("f", tags=(cosign("d"),)),
        ],
        None,
        {},
        {
            "a": (DELETE, Reason.EXPIRED),
            "b": (DELETE, Reason.WITH_PARENT, "a"),
            "c": (DELETE, Reason.WITH_PARENT, "a"),
            "d": (DELETE, Reason.WITH_PARENT, "c"),
            "e": (DELETE, Reason.WITH_PARENT, "a"),
            "f": (DELETE, Reason.WITH_PARENT, "d"),
        },
    ),
]

PRECEDENCE: list[tuple[str, list[Image], InUse | None, dict[str, Any], dict[str, tuple[Any, ...]]]] = [
    (
        "in use over part of a kept image over held tag",
        [image("a", tags=("prod",), children=["b", "c"]), image("b", tags=("prod-1",)), image("c")],
        usage(f"{HOST}/app@{digest('c')}"),
        {},
        {
            "a": (KEEP, Reason.IN_USE),
            "b": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
            "c": (KEEP, Reason.IN_USE),
        },
    ),
    (
        "held over newest over too young over recently pulled over untagged",
        [
            image("a", tags=("prod",), days=1, pulled=0),
            image("b", tags=("v1",), days=2, pulled=0),
            image("c", tags=("v2",), days=3, pulled=0),
            image("d", days=60, pulled=0),
            image("e", days=70),
        ],
        None,
        {
            "keep_latest": 2,
            "older_than": timedelta(days=30),
            "not_pulled_for": timedelta(days=7),
            "untagged": False,
        },
        {
            "a": (KEEP, Reason.HELD_TAG),
            "b": (KEEP, Reason.NEWEST_N),
            "c": (KEEP, Reason.TOO_YOUNG),
            "d": (KEEP, Reason.RECENTLY_PULLED),
            "e": (KEEP, Reason.UNTAGGED_NOT_SELECTED),
        },
    ),
    (
        "a child still listed by a kept index stays when its other index goes",
        [image("a", tags=("prod",), children=["c"]), image("b", children=["c", "d"]), image("c"), image("d")],
        None,
        {},
        {
            "a": (KEEP, Reason.HELD_TAG),
            "b": (DELETE, Reason.EXPIRED),
            "c": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
            "d": (DELETE, Reason.WITH_PARENT, "b"),
        },
    ),
    (
        "a held child keeps itself but not its index",
        [image("a", children=["b", "c"]), image("b", tags=("prod",)), image("c")],
        None,
        {},
        {"a": (DELETE, Reason.EXPIRED), "b": (KEEP, Reason.HELD_TAG), "c": (DELETE, Reason.WITH_PARENT, "a")},
    ),
    (
        "images whose parent is absent are top-level; dangling children are fine",
        [
            image("a", children=["z"], days=1),
            image("b", subject="y", days=2),
            image("c", tags=(cosign("x"),)),
        ],
        None,
        {"keep_latest": 2},
        {"a": (KEEP, Reason.NEWEST_N), "b": (KEEP, Reason.NEWEST_N), "c": (DELETE, Reason.EXPIRED)},
    ),
    (
        "a cycle through cosign tags has no root: its images are top-level",
        [image("a", tags=(cosign("b"),)), image("b", tags=(cosign("a"),)), image("c", tags=(cosign("c"),))],
        None,
        {},
        {"a": (DELETE, Reason.EXPIRED), "b": (DELETE, Reason.EXPIRED), "c": (DELETE, Reason.EXPIRED)},
    ),
    (
        "a kept member of a cycle keeps the whole cycle",
        [image("a", tags=(cosign("b"),), days=1), image("b", tags=(cosign("a"),))],
        None,
        {"keep_latest": 1},
        {"a": (KEEP, Reason.PART_OF_KEPT_IMAGE, "b"), "b": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a")},
    ),
]


@pytest.mark.parametrize(
    ("images", "uses", "fields", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_reason(
    images: list[Image], uses: InUse | None, fields: dict[str, Any], expected: dict[str, tuple[Any, ...]]
) -> None:
    assert decided(images, uses, **fields) == expected


@pytest.mark.parametrize(
    ("images", "uses", "fields", "expected"), [c[1:] for c in PRECEDENCE], ids=[c[0] for c in PRECEDENCE]
)
def test_precedence(
    images: list[Image], uses: InUse | None, fields: dict[str, Any], expected: dict[str, tuple[Any, ...]]
) -> None:
    assert decided(images, uses, **fields) == expected


def archived_index(name: str, **fields: Any) -> Image:
    """An archived index whose manifest cannot be read, so whose children are unknown."""
    fields = {"status": ImageStatus.ARCHIVED} | fields
    return image(name, media_type=s.INDEX, children_known=False, **fields)


UNKNOWN_CHILDREN: list[tuple[str, list[Image], InUse | None, dict[str, Any], dict[str, tuple[Any, ...]]]] = [
    (
        "a held archived index keeps every untagged non-referrer image no known index lists",
        [
            archived_index("a", tags=("prod",)),
            image("b"),
            image("c", subject="b"),
            image("d", tags=("v1",)),
            image("e", children=["f"]),
            image("f"),
            image("g", tags=(cosign("x"),)),
        ],
        None,
        {},
        {
            "a": (KEEP, Reason.HELD_TAG),
            "b": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
            "c": (KEEP, Reason.PART_OF_KEPT_IMAGE, "b"),
            "d": (DELETE, Reason.EXPIRED),
            "e": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
            "f": (KEEP, Reason.PART_OF_KEPT_IMAGE, "e"),
            "g": (DELETE, Reason.EXPIRED),
        },
    ),
    (
        "an index left archived keeps its possible children; in use still comes first",
        [archived_index("a", tags=("v1",)), image("b"), image("c")],
        usage(f"{HOST}/app@{digest('c')}"),
        {"action": ARCHIVE},
        {
            "a": (KEEP, Reason.ALREADY_ARCHIVED),
            "b": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
            "c": (KEEP, Reason.IN_USE),
        },
    ),
    (
        "a deleted index with unknown children leaves its possible children to the rules",
        [archived_index("a"), image("b", days=1), image("c")],
        None,
        {"keep_latest": 1},
        {"a": (DELETE, Reason.EXPIRED), "b": (KEEP, Reason.NEWEST_N), "c": (DELETE, Reason.EXPIRED)},
    ),
    (
        "an active index with unknown children is kept only by the rules",
        [archived_index("a", status=ImageStatus.ACTIVE), image("b")],
        None,
        {"action": ARCHIVE},
        {"a": (ARCHIVE, Reason.EXPIRED), "b": (ARCHIVE, Reason.EXPIRED)},
    ),
    (
        "an untagged index left archived is no child of itself, but of the next such index",
        [archived_index("a"), archived_index("b", status=ImageStatus.ACTIVATING), image("c")],
        None,
        {"action": ARCHIVE},
        {
            "a": (KEEP, Reason.PART_OF_KEPT_IMAGE, "b"),
            "b": (KEEP, Reason.PART_OF_KEPT_IMAGE, "a"),
            "c": (KEEP, Reason.PART_OF_KEPT_IMAGE, "b"),  # the smallest digest: sha256:3e23… is b's
        },
    ),
    (
        "a lone untagged index left archived keeps itself only",
        [archived_index("a")],
        None,
        {"action": ARCHIVE},
        {"a": (KEEP, Reason.ALREADY_ARCHIVED)},
    ),
]


@pytest.mark.parametrize(
    ("images", "uses", "fields", "expected"),
    [c[1:] for c in UNKNOWN_CHILDREN],
    ids=[c[0] for c in UNKNOWN_CHILDREN],
)
def test_unknown_children(
    images: list[Image], uses: InUse | None, fields: dict[str, Any], expected: dict[str, tuple[Any, ...]]
) -> None:
    assert decided(images, uses, **fields) == expected


def test_a_possible_child_names_the_unreadable_index() -> None:
    images = [archived_index("a", tags=("prod",)), image("b")]
    assert evidence(images)[1] == MaybeChildOf(digest("a"), ImageStatus.ARCHIVED)


def test_every_reason_has_a_case() -> None:
    covered = {reason for case in CASES for (_, reason, *_) in case[4].values()}
    assert covered == set(Reason)


def evidence(images: list[Image], uses: InUse | None = None, **fields: Any) -> list[Evidence]:
    """The evidence of each decision, in the order of `images`."""
    repository = Repository(name="app", images=tuple(images))
    by_digest = {
        d.image.digest: d.evidence for d in decide(repository, uses or usage(), policy(**fields), now=s.NOW)
    }
    return [by_digest[i.digest] for i in images]


DAY, HOUR = 86_400, 3_600


def test_decisions_carry_their_evidence() -> None:
    sources = tuple(f"src-{n}" for n in range(5))
    uses = in_use(
        Usage(uses=tuple(Use(ref=parse_reference(f"{HOST}/app:v1"), source=src) for src in sources)),
        account=s.ACCOUNT,
        region=s.REGION,
    )
    assert evidence([image("a", tags=("v1",))], uses) == [UsedBy(sources)]
    used_child = usage(f"{HOST}/app@{digest('c')}")
    [index, child] = evidence([image("b", children=["c"]), image("c")], used_child)
    assert (index, child) == (ListsInUse(digest("c"), ("IMG_LIST/prd_IMG_LIST.txt:1",)), child)
    assert evidence([image("a", tags=("x", "prod-1", "prod-0"))]) == [HeldBy("^prod", ("prod-0",), False)]
    together = image("a", tags=("rc", "2.87", "candidate"))
    assert evidence([together], hold_tags=("2\\.8&&rcORcandidate&&2",)) == [
        HeldBy("2\\.8&&rcORcandidate&&2", ("2.87", "rc"), True)
    ]
    newest = [image("a", days=1, tags=("v1",)), image("b", days=2), image("c", days=3, tags=("v0",))]
    assert evidence(newest, keep_latest=3, untagged=False) == [
        Newest(1, 2, 3),
        Ages(2 * DAY, None),
        Newest(2, 2, 3),
    ]
    assert evidence([image("a", days=1.5)], older_than=timedelta(days=30)) == [Ages(36 * HOUR, None)]
    assert evidence([image("a", pulled=3)], not_pulled_for=timedelta(hours=100)) == [Ages(400 * DAY, 3 * DAY)]
    assert evidence([image("a", pulled=9)]) == [Ages(400 * DAY, 9 * DAY)]
    assert evidence([image("a", status=ImageStatus.ACTIVATING)], action=ARCHIVE) == [Ages(400 * DAY, None)]


@given(
    st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650)),
    st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650)),
)
def test_ages_are_whole_seconds_rounded_down(pushed: timedelta, pulled: timedelta) -> None:
    """To the microsecond, and for times after the plan's (a clock ahead of ecrgc's) too."""
    one = Image(repository="app", digest=digest("a"), pushed_at=s.NOW - pushed, last_pulled_at=s.NOW - pulled)
    second = timedelta(seconds=1)
    assert evidence([one])[0] == Ages(pushed // second, pulled // second)


def test_an_index_carries_the_pull_age_it_is_judged_by() -> None:
    images = [image("i", children=("a",), pulled=0), image("a", pulled=200)]
    assert evidence(images)[0] == Ages(400 * DAY, 200 * DAY)


def test_parents_are_named_in_the_evidence() -> None:
    kept = [image("a", tags=("prod",), children=["b"]), image("b"), image("c", subject="a")]
    listed, attached = PartOf(digest("a"), Relation.LISTED), PartOf(digest("a"), Relation.ATTACHED)
    assert evidence(kept)[1:] == [listed, attached]
    removed = [image("a", children=["b"]), image("b"), image("c", subject="a")]
    assert evidence(removed)[1:] == [listed, attached]
    archived = [structs.replace(i, status=ImageStatus.ARCHIVED) for i in removed]
    assert evidence(archived, action=ARCHIVE)[1:] == [listed, attached]


@pytest.mark.parametrize(
    ("hold_tags", "tag", "held_by"),
    [
        (("^(x)y", "^(dev)-\\1$"), "dev-dev", "^(dev)-\\1$"),  # in an alternation, \1 names (x)
        (("^x", "(?i)^PROD"), "prod-1", "(?i)^PROD"),
        (("^x", "(?u)^prod"), "prod-1", "(?u)^prod"),  # valid alone, not inside an alternation
        (("^x", "^prod"), "prod-1", "^prod"),
        (("^x", "^prod"), "dev-1", None),
        (("(?i)^x", "^prod"), "dev-1", None),
    ],
)
def test_hold_patterns_with_groups_or_flags_hold_as_alone(
    hold_tags: tuple[str, ...], tag: str, held_by: str | None
) -> None:
    [found] = evidence([image("a", tags=(tag,))], hold_tags=hold_tags)
    assert found == (Ages(400 * DAY, None) if held_by is None else HeldBy(held_by, (tag,), False))


def test_in_use_keeps_only_this_registry_in_every_spelling() -> None:
    refs = [f"{host}/app:v1" for host in s.ecr_host_spellings(s.ACCOUNT, s.REGION)] + [
        f"{HOST}/app@{digest('a')}",
        f"{HOST}/app:v2@{digest('b')}",
        f"{ecr_host('210987654321', s.REGION)}/app:v1",
        f"{ecr_host(s.ACCOUNT, 'us-west-2')}/app:v1",
        "nginx:1.25",
    ]
    uses = Usage(uses=tuple(Use(ref=parse_reference(ref), source=f"s{n}") for n, ref in enumerate(refs)))
    result = in_use(uses, account=s.ACCOUNT, region=s.REGION)
    assert result.ignored == 3
    assert result.tags == {("app", "v1"): tuple(sorted(f"s{n}" for n in range(7)))}
    assert result.digests == {digest("a"): ("s7",), digest("b"): ("s8",)}


def test_a_list_line_without_a_host_is_a_use_of_this_registry() -> None:
    # The seed's lists hold `repository:tag` (list_img.sh); ecr.FilterImagesForDeletion compares just that.
    uses = in_use(
        Usage(uses=(Use(ref=parse_list_reference("app:v1"), source="IMG_LIST/PRE_IMG_LIST.txt:1"),)),
        account=s.ACCOUNT,
        region=s.REGION,
    )
    assert (uses.tags, uses.ignored) == ({("app", "v1"): ("IMG_LIST/PRE_IMG_LIST.txt:1",)}, 0)
    assert decided([image("a", tags=("v1",))], uses) == {"a": (KEEP, Reason.IN_USE)}


def test_an_action_that_removes_nothing_is_a_bug() -> None:
    with pytest.raises(ValueError, match="action keep removes nothing"):
        decided([image("a")], action=KEEP)


# --- invariants over random registries ------------------------------------------------------------------

# The machine is shared: generation time and run time say nothing about the properties under test.
property_settings = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


def _removed(decision: Decision) -> bool:
    """Deleted, archived, or left archived: anything but protected."""
    return decision.action in (DELETE, ARCHIVE) or decision.reason is Reason.ALREADY_ARCHIVED


def _top_level(repository: Repository) -> set[str]:
    present = {i.digest for i in repository.images}
    members = {c for i in repository.images for c in i.children if c != i.digest}
    members |= {i.digest for i in repository.images if i.referent in present and i.referent != i.digest}
    return present - members


def _newest(repository: Repository, policy: Policy) -> set[str]:
    top = [i for i in repository.images if i.digest in _top_level(repository) and (policy.untagged or i.tags)]
    top.sort(key=lambda i: (-i.pushed_at.timestamp(), i.digest))
    return {i.digest for i in top[: policy.keep_latest]}


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Repository, InUse, Policy]:
    repository = draw(s.repositories())
    uses = draw(s.usages([repository]))
    return repository, in_use(uses, account=s.ACCOUNT, region=s.REGION), draw(s.policies())


@settings(property_settings, max_examples=400)  # an index with unknown children kept beside an orphan is rare
@given(_cases())
def test_nothing_protected_is_ever_removed(case: tuple[Repository, InUse, Policy]) -> None:
    repository, uses, pol = case
    decisions = {d.image.digest: d for d in decide(repository, uses, pol, now=s.NOW)}
    newest = _newest(repository, pol)
    for d in decisions.values():
        if not _removed(d):
            continue
        assert not uses.sources(d.image), d
        assert not any(_holds(p.source, d.image.tags) for p in pol.hold_tags), d
        assert d.image.digest not in newest, d
    for parent in repository.images:  # whatever a kept image lists or has attached stays
        members = [
            d
            for d in decisions.values()
            if d.image.digest in parent.children or d.image.referent == parent.digest
        ]
        if not _removed(decisions[parent.digest]):
            assert not [m for m in members if _removed(m) and m.image.digest != parent.digest], parent
        # An index with unknown children kept in any way (left archived too) may list any orphan.
        if not parent.children_known and decisions[parent.digest].action is KEEP:
            orphans = [decisions[d] for d in _orphans(repository) if d != parent.digest]
            assert not [o for o in orphans if _removed(o)], parent


def _holds(source: str, tags: tuple[str, ...]) -> bool:
    """holdTags, written the obvious way: some OR part has every && part matching at least one tag."""
    return any(
        all(any(re.search(part, tag) for tag in tags) for part in alternative.split("&&"))
        for alternative in source.split("OR")
    )


def _orphans(repository: Repository) -> set[str]:
    """Images an index with unknown children may list: untagged, no referrer, listed by no known index."""
    listed = {c for i in repository.images for c in i.children if c != i.digest}
    return {i.digest for i in repository.images if not i.tags and i.referent is None} - listed


@property_settings
@given(_cases())
def test_an_index_listing_an_image_in_use_is_kept(case: tuple[Repository, InUse, Policy]) -> None:
    repository, uses, pol = case
    decisions = {d.image.digest: d for d in decide(repository, uses, pol, now=s.NOW)}
    for index in repository.images:
        if any(c in decisions and uses.sources(decisions[c].image) for c in index.children):
            assert decisions[index.digest].reason is Reason.IN_USE


@property_settings
@given(_cases())
def test_every_image_gets_exactly_one_decision(case: tuple[Repository, InUse, Policy]) -> None:
    repository, uses, pol = case
    decisions = decide(repository, uses, pol, now=s.NOW)
    assert sorted(d.image.digest for d in decisions) == sorted(i.digest for i in repository.images)
    assert [d.image.digest for d in decisions] == sorted(d.image.digest for d in decisions)
    for d in decisions:
        assert d.reason.keeps == (d.action is KEEP)
        assert (d.reason is Reason.ALREADY_ARCHIVED) <= (
            pol.action is ARCHIVE and d.image.status is not ImageStatus.ACTIVE
        )


def _view(decisions: tuple[Decision, ...]) -> list[tuple[Any, ...]]:
    return [(d.image.digest, d.action, d.reason, d.parent, d.evidence) for d in decisions]


@property_settings
@given(_cases(), st.randoms(use_true_random=False))
def test_input_order_never_changes_the_output(
    case: tuple[Repository, InUse, Policy], rnd: random.Random
) -> None:
    repository, uses, pol = case
    images = [structs.replace(i, tags=tuple(rnd.sample(i.tags, len(i.tags)))) for i in repository.images]
    rnd.shuffle(images)
    shuffled_uses = InUse(
        account=uses.account,
        region=uses.region,
        digests=dict(rnd.sample(list(uses.digests.items()), len(uses.digests))),
        tags=dict(rnd.sample(list(uses.tags.items()), len(uses.tags))),
    )
    expected = _view(decide(repository, uses, pol, now=s.NOW))
    assert _view(decide(replace(repository, images=tuple(images)), shuffled_uses, pol, now=s.NOW)) == expected


@property_settings
@given(s.registries(), st.data(), st.randoms(use_true_random=False))
def test_in_use_does_not_depend_on_the_order_of_uses(
    registry: tuple[Repository, ...], data: st.DataObject, rnd: random.Random
) -> None:
    uses = data.draw(s.usages(registry))
    shuffled = Usage(uses=tuple(rnd.sample(uses.uses, len(uses.uses))))
    assert in_use(shuffled, account=s.ACCOUNT, region=s.REGION) == in_use(
        uses, account=s.ACCOUNT, region=s.REGION
    )


@property_settings
@given(_cases())
def test_deciding_twice_gives_identical_output(case: tuple[Repository, InUse, Policy]) -> None:
    repository, uses, pol = case
    assert decide(repository, uses, pol, now=s.NOW) == decide(repository, uses, pol, now=s.NOW)


@property_settings
@given(_cases())
def test_at_least_keep_latest_top_level_images_are_kept(case: tuple[Repository, InUse, Policy]) -> None:
    repository, uses, pol = case
    top = _top_level(repository)
    kept = [d for d in decide(repository, uses, pol, now=s.NOW) if d.image.digest in top and not _removed(d)]
    assert len(kept) >= min(pol.keep_latest, len(top))


@property_settings
@given(_cases())
def test_a_removed_index_takes_its_children_unless_kept_elsewhere(
    case: tuple[Repository, InUse, Policy],
) -> None:
    repository, uses, pol = case
    decisions = {d.image.digest: d for d in decide(repository, uses, pol, now=s.NOW)}
    for index in repository.images:
        if not _removed(decisions[index.digest]):
            continue
        for child in (decisions[c] for c in index.children if c in decisions):
            own = {Reason.IN_USE, Reason.HELD_TAG, Reason.PART_OF_KEPT_IMAGE, Reason.ALREADY_ARCHIVED}
            assert _removed(child) or child.reason in own, child
            if child.reason is Reason.PART_OF_KEPT_IMAGE:
                assert child.parent is not None
                assert not _removed(decisions[child.parent])


def test_an_index_is_judged_by_its_childrens_pulls_not_its_own() -> None:
    """ecrgc's own reads of index manifests (BatchGetImage) bump the index's pull time, not the children's."""
    window: dict[str, Any] = {"not_pulled_for": timedelta(days=30)}
    read_by_ecrgc = [image("i", children=("a",), pulled=0), image("a", pulled=200)]
    really_pulled = [image("i", children=("a",), pulled=200), image("a", pulled=1)]
    never_pulled = [image("i", children=("a",), pulled=0), image("a")]

    assert decided(read_by_ecrgc, **window)["i"] == (DELETE, Reason.EXPIRED)
    assert decided(really_pulled, **window)["i"] == (KEEP, Reason.RECENTLY_PULLED)
    assert decided(never_pulled, **window)["i"] == (DELETE, Reason.EXPIRED)


def test_a_nested_index_counts_its_grandchildrens_pulls() -> None:
    images = [
        image("t", children=("m",), pulled=0),
        image("m", children=("l",), media_type=s.INDEX, pulled=0),
        image("l", pulled=2),
    ]
    assert decided(images, not_pulled_for=timedelta(days=30))["t"] == (KEEP, Reason.RECENTLY_PULLED)
