"""Apply's preconditions: an unchanged live state passes, every drift is caught and named."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import structs

from ecrgc.decide import InUse, decide, in_use
from ecrgc.model import (
    Action,
    Decision,
    Image,
    ImageStatus,
    MaybeChildOf,
    PartOf,
    PlannedAction,
    Policy,
    Reason,
    Relation,
    Repository,
    Usage,
    Use,
    UsedBy,
)
from ecrgc.refs import ecr_host, parse_reference
from ecrgc.verify import Check, Verdict, verify
from tests import strategies as s
from tests.test_decide import digest, image, policy, usage

HOST = ecr_host(s.ACCOUNT, s.REGION)
property_settings = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)


def planned(decision: Decision, name: str = "test") -> PlannedAction:
    """The plan file's record of a decision that removes an image."""
    i = decision.image
    return PlannedAction(
        repository=i.repository,
        digest=i.digest,
        tags=i.tags,
        pushed_at=i.pushed_at,
        last_pulled_at=i.last_pulled_at,
        size_bytes=i.size_bytes,
        media_type=i.media_type,
        action=decision.action,
        reason=decision.reason,
        parent=decision.parent,
        policy=name,
    )


def plan(repository: Repository, uses: InUse, pol: Policy) -> list[PlannedAction]:
    return [planned(d) for d in decide(repository, uses, pol, now=s.NOW) if d.action is not Action.KEEP]


REPOSITORY = Repository(
    name="app",
    images=(
        image("a", tags=("v1",), children=["b", "c"]),
        image("b"),
        image("c"),
        image("d", tags=("v2",), days=300),
        image("e", subject="d"),
        image("f", tags=("v3",), days=1),
    ),
)
POLICY = policy(keep_latest=1)


def checks(live: Repository, uses: InUse | None = None, pol: Policy = POLICY) -> dict[str, Check]:
    actions = plan(REPOSITORY, usage(), POLICY)
    names = {digest(name): name for name in "abcdef"}
    return {names[c.action.digest]: c for c in verify(actions, live, uses or usage(), pol, now=s.NOW)}


def with_image(name: str, **fields: object) -> Repository:
    images = [structs.replace(i, **fields) if i.digest == digest(name) else i for i in REPOSITORY.images]
    return replace(REPOSITORY, images=tuple(images))


def verdicts(found: dict[str, Check]) -> dict[str, tuple[Verdict, Reason | None]]:
    return {name: (c.verdict, c.reason) for name, c in found.items()}


def test_the_plan_removes_five_images() -> None:
    assert sorted(checks(REPOSITORY)) == ["a", "b", "c", "d", "e"]


def test_an_unchanged_live_state_passes() -> None:
    found = checks(REPOSITORY)
    assert {c.verdict for c in found.values()} == {Verdict.OK}
    assert found["b"].reason is Reason.WITH_PARENT
    assert found["b"].live is not None
    assert found["b"].live.evidence == PartOf(digest("a"), Relation.LISTED)


def test_a_digest_no_longer_there_is_gone_not_a_conflict() -> None:
    live = replace(REPOSITORY, images=tuple(i for i in REPOSITORY.images if i.digest != digest("d")))
    found = checks(live)
    assert found["d"].verdict is Verdict.GONE
    assert found["d"].detail == f"{digest('d')} is no longer in app"
    assert found["e"].verdict is Verdict.OK  # its subject gone, a referrer is top-level and expired itself


def test_a_held_tag_that_appeared_changes_the_tags_and_keeps_the_children() -> None:
    found = checks(with_image("a", tags=("v1", "prod")))
    assert verdicts(found)["a"] == (Verdict.TAGS_CHANGED, None)
    assert found["a"].detail == "tagged prod since the plan"
    assert verdicts(found)["b"] == (Verdict.KEPT, Reason.PART_OF_KEPT_IMAGE)


def test_a_tag_that_moved_away_is_a_change() -> None:
    found = checks(with_image("d", tags=()))
    assert (found["d"].verdict, found["d"].detail) == (Verdict.TAGS_CHANGED, "lost v2")
    both = checks(with_image("d", tags=("v9",)))
    assert both["d"].detail == "tagged v9 since the plan; lost v2"


def test_an_image_that_became_in_use_is_kept_with_its_index() -> None:
    found = checks(REPOSITORY, usage(f"{HOST}/app@{digest('c')}", source="prd · web · Pod/api-7"))
    assert verdicts(found) == {
        "a": (Verdict.KEPT, Reason.IN_USE),
        "b": (Verdict.KEPT, Reason.PART_OF_KEPT_IMAGE),
        "c": (Verdict.KEPT, Reason.IN_USE),
        "d": (Verdict.OK, Reason.EXPIRED),
        "e": (Verdict.OK, Reason.WITH_PARENT),
    }
    assert found["c"].live is not None
    assert found["c"].live.evidence == UsedBy(("prd · web · Pod/api-7",))


def test_a_pull_since_the_plan_keeps_the_image() -> None:
    found = checks(
        with_image("d", last_pulled_at=s.NOW - timedelta(hours=1)),
        pol=policy(keep_latest=1, not_pulled_for=timedelta(days=1)),
    )
    assert verdicts(found)["d"] == (Verdict.KEPT, Reason.RECENTLY_PULLED)
    assert verdicts(found)["e"] == (Verdict.KEPT, Reason.PART_OF_KEPT_IMAGE)


def test_a_newer_image_deleted_meanwhile_makes_a_planned_one_newest() -> None:
    live = replace(REPOSITORY, images=tuple(i for i in REPOSITORY.images if i.digest != digest("f")))
    assert verdicts(checks(live))["d"] == (Verdict.KEPT, Reason.NEWEST_N)


def test_another_action_than_planned_is_a_conflict() -> None:
    found = checks(REPOSITORY, pol=policy(keep_latest=1, action=Action.ARCHIVE))
    assert verdicts(found)["d"] == (Verdict.ACTION_CHANGED, Reason.EXPIRED)
    assert found["d"].detail == "planned delete, the live state says archive"


def test_a_claimed_parent_that_neither_lists_nor_is_the_subject_is_a_changed_relation() -> None:
    """A hand-edited `parent` can only make an action fail: the live repository says who goes with whom."""
    actions = plan(REPOSITORY, usage(), POLICY)
    d, f = digest("d"), digest("f")
    claims = {digest("b"): f, digest("e"): f, digest("d"): digest("a")}  # f lists nothing, a does not list d
    edited = [structs.replace(a, parent=claims.get(a.digest, a.parent)) for a in actions]

    found = {c.action.digest: c for c in verify(edited, REPOSITORY, usage(), POLICY, now=s.NOW)}

    assert {found[x].verdict for x in claims} == {Verdict.RELATION_CHANGED}
    assert (
        found[d].detail
        == f"the plan says it goes with {digest('a')}, which neither lists it nor is its subject"
    )
    assert {found[x].verdict for x in (digest("a"), digest("c"))} == {Verdict.OK}  # true claims, or none


def test_a_claimed_parent_no_longer_there_claims_nothing_and_the_fresh_rules_decide() -> None:
    """The fake-parent attack: an image kept as newest, given a parent the registry never had, stays kept."""
    (newest,) = [d for d in decide(REPOSITORY, usage(), POLICY, now=s.NOW) if d.image.digest == digest("f")]
    assert newest.reason is Reason.NEWEST_N
    crafted = structs.replace(
        planned(newest), action=Action.DELETE, reason=Reason.WITH_PARENT, parent=digest("nowhere")
    )

    (found,) = verify([crafted], REPOSITORY, usage(), POLICY, now=s.NOW)

    assert (found.verdict, found.reason) == (Verdict.KEPT, Reason.NEWEST_N)


def test_an_action_for_another_repository_is_a_bug() -> None:
    with pytest.raises(ValueError, match="planned action for app checked against other"):
        verify(
            plan(REPOSITORY, usage(), POLICY), replace(REPOSITORY, name="other"), usage(), POLICY, now=s.NOW
        )


# --- properties -------------------------------------------------------------------------------------------


@st.composite
def _cases(draw: st.DrawFn) -> tuple[Repository, InUse, Policy]:
    repository = draw(s.repositories())
    return (
        repository,
        in_use(draw(s.usages([repository])), account=s.ACCOUNT, region=s.REGION),
        draw(s.policies()),
    )


@property_settings
@given(_cases())
def test_verify_on_the_planned_state_passes_every_action(case: tuple[Repository, InUse, Policy]) -> None:
    repository, uses, pol = case
    actions = plan(repository, uses, pol)
    result = verify(actions, repository, uses, pol, now=s.NOW)
    assert [c.action for c in result] == actions
    assert all(c.verdict is Verdict.OK for c in result)


@property_settings
@given(_cases(), st.data())
def test_a_held_tag_on_a_planned_image_is_caught(
    case: tuple[Repository, InUse, Policy], data: st.DataObject
) -> None:
    repository, uses, pol = case
    actions = plan(repository, uses, pol)
    if not actions:
        return
    target = data.draw(st.sampled_from(actions))
    held = replace(pol, hold_tags=(*pol.hold_tags, *policy(hold_tags=("^hold-",)).hold_tags))
    live = _retag(repository, target.digest, (*target.tags, "hold-1"))
    by_digest = {c.action.digest: c for c in verify(actions, live, uses, held, now=s.NOW)}
    assert by_digest[target.digest].verdict is Verdict.TAGS_CHANGED
    for member in _members(repository, target.digest) & by_digest.keys():
        assert by_digest[member].verdict is not Verdict.OK


@property_settings
@given(_cases(), st.data())
def test_a_new_use_is_caught(case: tuple[Repository, InUse, Policy], data: st.DataObject) -> None:
    repository, uses, pol = case
    actions = plan(repository, uses, pol)
    if not actions:
        return
    target = data.draw(st.sampled_from(actions))
    new = Use(ref=parse_reference(f"{HOST}/elsewhere@{target.digest}"), source="new")
    now_used = in_use(Usage(uses=(new,)), account=s.ACCOUNT, region=s.REGION)
    merged = InUse(
        account=uses.account, region=uses.region, digests={**uses.digests, **now_used.digests}, tags=uses.tags
    )
    by_digest = {c.action.digest: c for c in verify(actions, repository, merged, pol, now=s.NOW)}
    assert (by_digest[target.digest].verdict, by_digest[target.digest].reason) == (
        Verdict.KEPT,
        Reason.IN_USE,
    )


@property_settings
@given(_cases(), st.data())
def test_a_removed_digest_is_gone(case: tuple[Repository, InUse, Policy], data: st.DataObject) -> None:
    repository, uses, pol = case
    actions = plan(repository, uses, pol)
    if not actions:
        return
    target = data.draw(st.sampled_from(actions))
    live = replace(repository, images=tuple(i for i in repository.images if i.digest != target.digest))
    by_digest = {c.action.digest: c for c in verify(actions, live, uses, pol, now=s.NOW)}
    assert by_digest[target.digest].verdict is Verdict.GONE


def _retag(repository: Repository, target: str, tags: tuple[str, ...]) -> Repository:
    def retagged(i: Image) -> Image:
        return structs.replace(i, tags=tags) if i.digest == target else i

    return replace(repository, images=tuple(retagged(i) for i in repository.images))


def _members(repository: Repository, parent: str) -> set[str]:
    """Children and referrers of `parent`, transitively."""
    found: set[str] = set()
    frontier = {parent}
    while frontier:
        listed = {child for i in repository.images if i.digest in frontier for child in i.children}
        frontier = (
            {i.digest for i in repository.images if i.digest in listed or i.referent in frontier}
            - found
            - {parent}
        )
        found |= frontier
    return found


def test_an_image_that_may_be_a_child_of_a_kept_archived_index_is_no_longer_removed() -> None:
    stray = image("g")
    before = Repository(name="app", images=(stray,))
    archived = image(
        "h", tags=("prod",), media_type=s.INDEX, status=ImageStatus.ARCHIVED, children_known=False
    )
    live = replace(before, images=(stray, archived))

    pol = policy()  # hold ^prod, keep none of the newest
    [check] = verify(plan(before, usage(), pol), live, usage(), pol, now=s.NOW)

    assert (check.verdict, check.reason) == (Verdict.KEPT, Reason.PART_OF_KEPT_IMAGE)
    assert check.live is not None
    assert check.live.evidence == MaybeChildOf(digest("h"), ImageStatus.ARCHIVED)
