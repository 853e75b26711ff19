"""The plan file: canonical, round-tripping, hashed, versioned, validated. Sample plans for the views too."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ecrgc import planfile
from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.model import (
    Action,
    Ages,
    Evidence,
    HeldBy,
    ImageStatus,
    InputFingerprint,
    InputKind,
    ListsInUse,
    MaybeChildOf,
    Newest,
    PartOf,
    Plan,
    PlannedAction,
    PolicyRecord,
    ProtectedImage,
    Reason,
    Relation,
    RepositorySummary,
    UsedBy,
)
from ecrgc.planfile import decode
from ecrgc.planfile.recordcheck import compile_check
from ecrgc.policy import document_sha256
from tests.golden_files import assert_golden

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
KEEPING = [r for r in Reason if r.keeps]


def policy_record(name: str, document: dict[str, Any]) -> PolicyRecord:
    """An embedded policy with the hash of its document (the loader checks that they agree)."""
    return PolicyRecord(name=name, sha256=document_sha256(document), document=document)


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def action(repository: str, seed: str, **fields: object) -> PlannedAction:
    values: dict[str, object] = {
        "repository": repository,
        "digest": digest(seed),
        "tags": (),
        "pushed_at": T0 - timedelta(days=200),
        "last_pulled_at": None,
        "size_bytes": 50_000_000,
        "media_type": MANIFEST,
        "action": Action.DELETE,
        "reason": Reason.EXPIRED,
        "policy": "default",
    }
    values.update(fields)
    return PlannedAction(**values)  # type: ignore[arg-type]


def kept(repository: str, seed: str, reason: Reason, **fields: object) -> PlannedAction:
    """A kept image's record (`action` with action KEEP)."""
    return action(repository, seed, action=Action.KEEP, reason=reason, **fields)


def in_use(image: PlannedAction, *sources: str) -> ProtectedImage:
    """The protected entry of the kept, in-use `image`."""
    return ProtectedImage(repository=image.repository, digest=image.digest, tags=image.tags, sources=sources)


def plan(**fields: object) -> Plan:
    values: dict[str, object] = {
        "format_version": planfile.FORMAT_VERSION,
        "ecrgc_version": "0.1.0",
        "created_at": T0,
        "expires_at": T0 + timedelta(days=7),
        "account": "123456789012",
        "region": "eu-west-1",
        "policies": (policy_record("default", {"name": "default"}),),
        "inputs": (),
        "actions": (),
        "kept": (),
        "repository_deletions": (),
        "protected": (),
        "summary": (),
    }
    values.update(fields)
    return planfile.canonical(Plan(**values))  # type: ignore[arg-type]


def empty_plan() -> Plan:
    """Nothing to delete: every image is kept, some in use."""
    live = kept("payments/api", "api-live", Reason.IN_USE, tags=("v2.4.0",))
    return plan(
        kept=(live, kept("web/frontend", "web-1", Reason.NEWEST_N, tags=("build-1",), policy="default")),
        summary=(
            RepositorySummary(
                repository="payments/api",
                policy="default",
                scanned=14,
                kept={Reason.IN_USE: 2, Reason.NEWEST_N: 10, Reason.TOO_YOUNG: 2},
                deleted=0,
                archived=0,
                bytes_reclaimed=0,
            ),
            RepositorySummary(
                repository="web/frontend",
                policy="default",
                scanned=3,
                kept={Reason.NEWEST_N: 3},
                deleted=0,
                archived=0,
                bytes_reclaimed=0,
            ),
        ),
        protected=(in_use(live, "prd · payments · Deployment/api"),),
    )


def small_plan() -> Plan:
    """A handful of repositories: an index with children and a signature, an archive policy, in-use images,
    a repository emptied and deleted, release-looking tags."""
    index = digest("api-index")
    child = digest("api-amd64")
    api = [
        action("payments/api", "api-index", tags=("v1.2.3",), media_type=INDEX, size_bytes=1_234),
        action("payments/api", "api-amd64", reason=Reason.WITH_PARENT, parent=index, size_bytes=300_000_000),
        action("payments/api", "api-arm64", reason=Reason.WITH_PARENT, parent=index, size_bytes=280_000_000),
        action(
            "payments/api",
            "api-amd64-sbom",
            tags=(f"sha256-{child[7:]}.sbom",),
            reason=Reason.WITH_PARENT,
            parent=child,
            size_bytes=20_000,
        ),
        action(
            "payments/api", "api-pr", tags=("pr-1234", "feature-x"), last_pulled_at=T0 - timedelta(days=90)
        ),
    ]
    web = [
        action("web/frontend", f"web-{n}", tags=(f"build-{n}",), action=Action.ARCHIVE, policy="frontend")
        for n in range(2)
    ]
    cron = [
        action("tools/legacy-cron", f"cron-{n}", tags=("release-2023",) if n == 0 else ()) for n in range(3)
    ]
    api_sources = ("IMG_LIST/prd_IMG_LIST.txt:12", "prd · payments · Deployment/api")
    live_index = kept(
        "payments/api",
        "api-live",
        Reason.IN_USE,
        tags=("latest", "v2.4.0"),
        media_type=INDEX,
        evidence=UsedBy(api_sources),
    )
    web_live = kept(
        "web/frontend",
        "web-live",
        Reason.IN_USE,
        policy="frontend",
        evidence=UsedBy(("prd · web · Deployment/web",)),
    )
    keeps = [
        live_index,
        kept(
            "payments/api",
            "api-live-amd64",
            Reason.PART_OF_KEPT_IMAGE,
            parent=live_index.digest,
            evidence=PartOf(live_index.digest, Relation.LISTED),
        ),
        kept(
            "payments/api",
            "api-v2.3",
            Reason.NEWEST_N,
            tags=("v2.3.0",),
            last_pulled_at=T0,
            evidence=Newest(2, 9, 10),
        ),
        web_live,
        kept(
            "web/frontend",
            "web-held",
            Reason.HELD_TAG,
            tags=("release-1",),
            policy="frontend",
            evidence=HeldBy("^release-", ("release-1",), together=False),
        ),
        kept(
            "infra/base",
            "base-young",
            Reason.TOO_YOUNG,
            pushed_at=T0 - timedelta(hours=1, microseconds=5),
            evidence=Ages(3600, None),
        ),
    ]
    return plan(
        policies=(
            policy_record("default", {"name": "default", "keepLatest": 10}),
            policy_record("frontend", {"name": "frontend", "action": "archive"}),
        ),
        inputs=(
            InputFingerprint(
                kind=InputKind.IMAGE_LIST,
                name="IMG_LIST/prd_IMG_LIST.txt",
                sha256="ef" * 32,
                references=42,
                this_registry=30,
                other_accounts=2,
                other_registries=10,
                protected=0,  # a stale list: a warning
            ),
            InputFingerprint(
                kind=InputKind.KUBERNETES,
                name="prd",
                references=120,
                this_registry=40,
                other_accounts=50,
                other_registries=30,
                protected=1,
            ),
        ),
        actions=(*api, *web, *cron),
        kept=tuple(keeps),
        repository_deletions=("tools/legacy-cron",),
        protected=(
            in_use(live_index, *api_sources),
            in_use(web_live, "prd · web · Deployment/web"),
        ),
        summary=(
            _summary(
                "payments/api", 17, {Reason.IN_USE: 1, Reason.PART_OF_KEPT_IMAGE: 2, Reason.NEWEST_N: 9}, api
            ),
            _summary(
                "web/frontend", 8, {Reason.IN_USE: 1, Reason.HELD_TAG: 1, Reason.NEWEST_N: 4}, web, "frontend"
            ),
            _summary("tools/legacy-cron", 3, {}, cron, delete_repository=True),
            _summary(
                "infra/base",
                6,
                {Reason.TOO_YOUNG: 2, Reason.RECENTLY_PULLED: 3, Reason.ALREADY_ARCHIVED: 1},
                [],
            ),
        ),
    )


def _summary(
    repository: str,
    scanned: int,
    kept: dict[Reason, int],
    actions: list[PlannedAction],
    policy: str = "default",
    *,
    delete_repository: bool = False,
) -> RepositorySummary:
    deleted = [a for a in actions if a.action is Action.DELETE]
    return RepositorySummary(
        repository=repository,
        policy=policy,
        scanned=scanned,
        kept=kept,
        deleted=len(deleted),
        archived=len(actions) - len(deleted),
        bytes_reclaimed=sum(a.size_bytes for a in deleted),
        delete_repository=delete_repository,
    )


def big_plan(actions: int, repositories: int, *, keeps: int = 0, seed: int = 7) -> Plan:
    """`actions` deletions spread over `repositories` (as the planner would list them, every 97th with a
    release-looking tag), and `keeps` kept images recorded (newest_n) spread the same way."""
    rng = random.Random(seed)
    names = [f"team-{n % 37}/service-{n:04d}" for n in range(repositories)]
    listed: list[PlannedAction] = []
    for n in range(actions):
        repository = names[n % repositories]
        parent = listed[-1] if n % 10 in (1, 2) and listed and listed[-1].repository == repository else None
        listed.append(
            action(
                repository,
                f"big-{n}",
                tags=() if parent else (f"build-{n}",) if n % 97 else (f"v{n // 97}.0.0",),
                pushed_at=T0 - timedelta(days=30 + rng.randrange(700), seconds=rng.randrange(86_400)),
                size_bytes=rng.randrange(1_000, 900_000_000),
                reason=Reason.WITH_PARENT if parent else Reason.EXPIRED,
                parent=parent.digest if parent else None,
            )
        )
    recorded = [
        kept(
            names[n % repositories],
            f"big-kept-{n}",
            Reason.NEWEST_N,
            tags=(f"build-kept-{n}",),
            pushed_at=T0 - timedelta(days=rng.randrange(30), seconds=rng.randrange(86_400)),
            size_bytes=rng.randrange(1_000, 900_000_000),
        )
        for n in range(keeps)
    ]
    by_repository: dict[str, list[PlannedAction]] = {}
    for a in listed:
        by_repository.setdefault(a.repository, []).append(a)
    summary = tuple(
        _summary(name, len(group) * 3, {Reason.NEWEST_N: len(group) * 2}, group)
        for name, group in by_repository.items()
    )
    return plan(actions=tuple(listed), kept=tuple(recorded), summary=summary)


# --- hypothesis strategies ---------------------------------------------------------------------------

digests = st.binary(min_size=4, max_size=4).map(lambda b: "sha256:" + hashlib.sha256(b).hexdigest())
_names = st.text(alphabet="abcz019", min_size=2, max_size=5)
repositories = st.one_of(_names, st.tuples(_names, _names).map("/".join))
tags = st.lists(st.text(min_size=1, max_size=12), max_size=3, unique=True).map(tuple)
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def planned_images(
    draw: st.DrawFn, min_size: int = 0
) -> tuple[tuple[PlannedAction, ...], tuple[PlannedAction, ...], tuple[ProtectedImage, ...]]:
    """(actions, kept, protected) in any order: a repository's images share its policy; a parent is an
    earlier image of the repository (an action's parent is an action)."""
    keys = draw(st.lists(st.tuples(repositories, digests), min_size=min_size, max_size=12, unique=True))
    policy_of = {r: draw(st.text(min_size=1, max_size=8)) for r in sorted({r for r, _ in keys})}
    listed: list[PlannedAction] = []
    protected: list[ProtectedImage] = []
    for n, (repository, image) in enumerate(keys):
        keeps = n >= min_size and draw(st.booleans())
        earlier = [a for a in listed if a.repository == repository and (keeps or a.action is not Action.KEEP)]
        parent = draw(st.none() | st.sampled_from([a.digest for a in earlier])) if earlier else None
        removal = Reason.WITH_PARENT if parent else Reason.EXPIRED
        reason = draw(st.sampled_from(KEEPING)) if keeps else removal
        sources = sorted(
            draw(st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3, unique=True))
        )
        listed.append(
            PlannedAction(
                repository=repository,
                digest=image,
                tags=draw(tags),
                pushed_at=draw(moments),
                last_pulled_at=draw(st.none() | moments),
                size_bytes=draw(st.integers(min_value=0, max_value=10**13)),
                media_type=draw(st.sampled_from([INDEX, MANIFEST, ""])),
                action=Action.KEEP if keeps else draw(st.sampled_from([Action.DELETE, Action.ARCHIVE])),
                reason=reason,
                parent=parent,
                policy=policy_of[repository],
                evidence=draw(evidence_of(parent, tuple(sources) if reason is Reason.IN_USE else ()))
                if keeps
                else None,
            )
        )
        if reason is Reason.IN_USE:
            protected.append(in_use(listed[-1], *sources))
    shuffled = draw(st.permutations(listed))
    return (
        tuple(a for a in shuffled if a.action is not Action.KEEP),
        tuple(a for a in shuffled if a.action is Action.KEEP),
        tuple(draw(st.permutations(protected))),
    )


def evidence_of(parent: str | None, sources: tuple[str, ...]) -> st.SearchStrategy[Evidence | None]:
    """Any evidence a kept image with this `parent` and these `sources` (in use, else none) may carry."""
    free = st.one_of(
        st.none(),
        st.builds(HeldBy, st.text(max_size=6), tags, st.booleans()),
        st.builds(Newest, st.integers(1, 99), st.integers(1, 99), st.integers(0, 99)),
        st.builds(Ages, st.integers(-(10**9), 10**9), st.none() | st.integers(-(10**9), 10**9)),
    )
    if sources:  # an in-use image's sources are its record's, whether it is used or lists a used child
        free |= st.just(UsedBy(sources)) | st.builds(ListsInUse, digests, st.just(sources))
    if parent is None:
        return free
    return (
        free
        | st.builds(PartOf, st.just(parent), st.sampled_from(Relation))
        | st.builds(MaybeChildOf, st.just(parent), st.sampled_from(ImageStatus))
    )


summaries = st.builds(
    RepositorySummary,
    repository=repositories,
    policy=st.text(min_size=1, max_size=8),
    scanned=st.integers(0, 10**6),
    kept=st.dictionaries(st.sampled_from(KEEPING), st.integers(0, 10**6)),
    deleted=st.integers(0, 10**6),
    archived=st.integers(0, 10**6),
    bytes_reclaimed=st.integers(0, 10**15),
    delete_repository=st.booleans(),
)


@st.composite
def plans(draw: st.DrawFn, min_actions: int = 0) -> Plan:
    """Arbitrary valid plans, in any order (compare with `planfile.canonical`)."""
    return Plan(
        format_version=planfile.FORMAT_VERSION,
        ecrgc_version=draw(st.text(min_size=1, max_size=8)),
        created_at=draw(moments),
        expires_at=draw(moments),
        account=draw(st.integers(0, 10**12 - 1).map("{:012d}".format)),
        region=draw(st.sampled_from(["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1"])),
        policies=tuple(
            draw(
                st.lists(
                    st.builds(
                        policy_record,
                        st.text(min_size=1, max_size=8),
                        st.dictionaries(st.text(max_size=6), json_values, max_size=4),
                    ),
                    max_size=3,
                    unique_by=lambda p: p.name,
                )
            )
        ),
        inputs=tuple(
            draw(
                st.lists(
                    st.builds(
                        InputFingerprint,
                        kind=st.sampled_from(InputKind),
                        name=st.text(min_size=1, max_size=10),
                        sha256=st.sampled_from(["", "0f" * 32]),
                        references=st.integers(0, 10**6),
                    ),
                    max_size=3,
                )
            )
        ),
        actions=(images := draw(planned_images(min_actions)))[0],
        kept=images[1],
        repository_deletions=tuple(draw(st.lists(repositories, max_size=3, unique=True))),
        protected=images[2],
        summary=_consistent_summary(draw, images[0]),
    )


def _consistent_summary(draw: st.DrawFn, actions: tuple[PlannedAction, ...]) -> tuple[RepositorySummary, ...]:
    """Random summaries whose deleted/archived counts match the actions (as `loads` checks)."""
    drawn = {s.repository: s for s in draw(st.lists(summaries, max_size=4, unique_by=lambda s: s.repository))}
    for repository in {a.repository for a in actions} - drawn.keys():
        drawn[repository] = replace(draw(summaries), repository=repository)
    return tuple(
        replace(
            s,
            deleted=sum(a.repository == s.repository and a.action is Action.DELETE for a in actions),
            archived=sum(a.repository == s.repository and a.action is Action.ARCHIVE for a in actions),
        )
        for s in drawn.values()
    )


# --- properties --------------------------------------------------------------------------------------

# The machine is shared: time limits per example would measure the neighbours, not ecrgc.
properties = settings(deadline=None)


@properties
@given(plans())
def test_loads_of_dumps_is_the_canonical_plan(p: Plan) -> None:
    assert planfile.loads(planfile.dumps(p)) == planfile.canonical(p)
    assert planfile.loads(planfile.dumps(p, columns=True)) == planfile.canonical(p)


@properties
@given(plans())
def test_dumps_of_loads_gives_the_same_bytes(p: Plan) -> None:
    for columns in (False, True):
        text = planfile.dumps(p, columns=columns)
        assert planfile.dumps(planfile.loads(text), columns=columns) == text


@properties
@given(plans())
def test_canonical_text_does_not_depend_on_input_order(p: Plan) -> None:
    shuffled = Plan(
        **{
            **{name: getattr(p, name) for name in Plan.__dataclass_fields__},
            "actions": tuple(reversed(p.actions)),
            "kept": tuple(reversed(p.kept)),
            "protected": tuple(reversed(p.protected)),
            "summary": tuple(reversed(p.summary)),
        }
    )
    assert planfile.dumps(shuffled) == planfile.dumps(p)
    assert planfile.dumps(shuffled, columns=True) == planfile.dumps(p, columns=True)


@properties
@given(plans())
def test_every_parent_comes_before_what_goes_with_it(p: Plan) -> None:
    ordered = planfile.canonical(p).actions
    position = {(a.repository, a.digest): n for n, a in enumerate(ordered)}
    for n, a in enumerate(ordered):
        if a.parent:
            assert position[(a.repository, a.parent)] < n


@properties
@given(plans(min_actions=1), st.data())
def test_any_one_character_edit_of_a_digest_is_refused(p: Plan, data: st.DataObject) -> None:
    text = planfile.dumps(p)
    target = data.draw(st.sampled_from(planfile.canonical(p).actions)).digest
    start = text.index(f'"imageDigest":"{target}"') + len('"imageDigest":"')
    position = data.draw(st.integers(start, start + len(target) - 1))
    replacement = data.draw(st.characters(exclude_characters='"\\', codec="utf-8").filter(lambda c: c >= " "))
    if replacement == text[position]:
        replacement = "0" if text[position] != "0" else "1"
    edited = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(
        PlanRefused, match=r"^plans/x\.json: content hash mismatch: the plan was edited after"
    ):
        planfile.loads(edited, source="plans/x.json")


# --- examples ----------------------------------------------------------------------------------------


def test_small_plan_file_is_the_golden_one() -> None:
    assert_golden(GOLDEN / "plan-small.json", planfile.dumps(small_plan()))


def test_empty_plan_file_is_the_golden_one() -> None:
    assert_golden(GOLDEN / "plan-empty.json", planfile.dumps(empty_plan()))


def test_the_hash_is_reproducible_from_its_documented_recipe() -> None:
    document = json.loads(planfile.dumps(small_plan()))
    claimed = document.pop("content_sha256")
    recipe = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert (
        hashlib.sha256(recipe.encode("utf-8")).hexdigest() == claimed == planfile.content_hash(small_plan())
    )


def test_reindenting_the_file_changes_nothing() -> None:
    text = planfile.dumps(small_plan())
    assert planfile.loads(json.dumps(json.loads(text))) == small_plan()


def test_timestamps_are_utc_with_z_and_microseconds_only_when_present() -> None:
    paris = timezone(timedelta(hours=1))
    assert planfile.format_timestamp(datetime(2026, 1, 15, 13, 0, tzinfo=paris)) == "2026-01-15T12:00:00Z"
    assert (
        planfile.format_timestamp(datetime(2026, 1, 15, 12, 0, 0, 5, tzinfo=UTC))
        == "2026-01-15T12:00:00.000005Z"
    )
    with pytest.raises(ValueError, match="naive datetime"):
        planfile.format_timestamp(datetime(2026, 1, 15))


def test_indexes_and_subjects_come_before_what_goes_with_them() -> None:
    ordered = [(a.repository, a.digest) for a in small_plan().actions]
    api = [d for r, d in ordered if r == "payments/api"]
    index, amd64, arm64, sbom = (
        api.index(digest(s)) for s in ("api-index", "api-amd64", "api-arm64", "api-amd64-sbom")
    )
    assert index < amd64 < sbom
    assert index < arm64
    assert api[-1] == digest("api-amd64-sbom")  # depth 2: a referrer of a child of the index


@pytest.mark.parametrize(
    ("size_bytes", "usd"),
    [(0, "0.00"), (10**9, "0.10"), (3_400_000_000, "0.34"), (50_000_000, "0.01"), (49_999_999, "0.00")],
)
def test_monthly_saving_is_ten_cents_per_decimal_gb_rounded_half_up(size_bytes: int, usd: str) -> None:
    assert planfile.monthly_saving_usd(size_bytes) == Decimal(usd)


def test_summary_totals_are_derived_from_the_repositories() -> None:
    summary = json.loads(planfile.dumps(small_plan()))["summary"]
    assert summary["images_deleted"] == 8
    assert summary["images_archived"] == 2
    assert summary["kept_by_reason"]["in_use"] == 2
    assert summary["bytes_reclaimed"] == 780_021_234  # archived images free nothing
    assert summary["estimated_monthly_saving_usd"] == "0.08"


def _rehash(document: dict[str, object]) -> str:
    document.pop("content_sha256", None)
    compact = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    document["content_sha256"] = hashlib.sha256(compact.encode("utf-8")).hexdigest()
    return json.dumps(document)


def test_an_unsupported_major_version_is_refused() -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["format_version"] = "3.0"
    with pytest.raises(
        PlanRefused, match=r"^p\.json: format_version '3\.0' is not supported \(this ecrgc reads 2\.x\)"
    ):
        planfile.loads(_rehash(document), source="p.json")


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        (["rank", 2], r"\['rank', 2\] is no known evidence"),
        (["newest", 2, 3], r"\['newest', 2, 3\] is no known evidence"),
        (["newest", "2", 3, 3], r"'2' is no rank of newest"),
        (["newest", True, 3, 3], r"True is no rank of newest"),
        (["held_by", "^r", "release-1", False], r"'release-1' is no tags of held_by"),
        (["part_of", "adopted"], r"'adopted' is no relation of part_of"),
        (["part_of", "listed"], r"part_of needs the image's parent"),
    ],
)
def test_evidence_that_is_not_what_the_planner_writes_is_refused_in_one_line(
    evidence: list[object], message: str
) -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["kept"][0]["evidence"] = evidence  # infra/base: no parent
    with pytest.raises(ConfigError, match=rf"^p\.json::\$\.kept\[0\]\.evidence: {message}: the plan was ed"):
        planfile.loads(_rehash(document), source="p.json")


def test_a_format_1_plan_is_refused_with_one_line_saying_to_re_plan() -> None:
    """A 1.0 plan as ecrgc 0.1 wrote it (a `protected` list, no `kept`): plans expire, so re-plan."""
    document = json.loads(planfile.dumps(small_plan()))
    document["format_version"] = "1.0"
    document["protected"] = [{"repository": "a/b", "imageDigest": _DIGEST, "imageTags": [], "sources": ["x"]}]
    del document["kept"]
    with pytest.raises(
        PlanRefused, match=r"^p\.json: format_version '1\.0' is an older plan format"
    ) as raised:
        planfile.loads(_rehash(document), source="p.json")
    assert str(raised.value).endswith("re-run ecrgc plan (plans expire anyway)")
    assert "\n" not in str(raised.value)


def test_a_newer_minor_version_may_add_keys_anywhere() -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["format_version"] = "2.7"
    document["approvals"] = ["someone"]
    document["actions"][0]["artifactType"] = "application/spdx+json"
    document["kept"][0]["explanation"] = {"rank": 1}
    loaded = planfile.loads(_rehash(document))
    assert loaded.actions == small_plan().actions
    assert loaded.kept == small_plan().kept
    assert loaded.format_version == "2.7"


def test_unknown_keys_in_our_own_version_are_errors_with_their_path() -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["actions"][3]["artifactType"] = "x"
    document["actions"][4]["sizeBytes"] = -1
    with pytest.raises(ConfigError, match=r"^p\.json: not a valid plan file \(2 errors\)") as raised:
        planfile.loads(_rehash(document), source="p.json")
    assert raised.value.errors == (
        "p.json::$.actions[3]: Additional properties are not allowed ('artifactType' was unexpected)",
        "p.json::$.actions[4].sizeBytes: -1 is less than the minimum of 0",
    )


def test_summary_counts_that_disagree_with_the_actions_are_an_error() -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["summary"]["repositories"][2]["deleted"] = 2
    document["summary"]["images_deleted"] -= 1
    with pytest.raises(
        ConfigError, match=r"counts 2 deleted and 0 archived in tools/legacy-cron but its actions are 3"
    ):
        planfile.loads(_rehash(document))
    del document["summary"]["repositories"][2]
    document["summary"]["images_deleted"] -= 2
    document["summary"]["images_scanned"] -= 3
    document["summary"]["bytes_reclaimed"] -= 150_000_000
    document["summary"]["estimated_monthly_saving_usd"] = "0.06"
    with pytest.raises(ConfigError, match=r"has no entry for tools/legacy-cron"):
        planfile.loads(_rehash(document))


def test_summary_totals_that_disagree_are_an_error() -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["summary"]["images_deleted"] += 1
    with pytest.raises(ConfigError, match=r"summary totals disagree"):
        planfile.loads(_rehash(document))


@pytest.mark.parametrize(
    ("text", "message"), [("{", "not valid JSON"), ("[]", "not an ecrgc plan"), ("{}", "not an ecrgc plan")]
)
def test_text_that_is_not_a_plan_is_an_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        planfile.loads(text)


def test_plan_files_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "plans" / "prod.json"
    planfile.write_plan_file(small_plan(), path)
    assert path.read_bytes() == planfile.dumps(small_plan()).encode()
    assert [p.name for p in path.parent.iterdir()] == ["prod.json"]
    assert planfile.load_plan_file(path) == small_plan()


def test_a_missing_plan_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.json: cannot read the plan file"):
        planfile.load_plan_file(tmp_path / "missing.json")


def test_dumps_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match=r"ecrgc writes plan format 2\.0, not 2\.1"):
        planfile.dumps(
            Plan(
                **{
                    **{n: getattr(small_plan(), n) for n in Plan.__dataclass_fields__},
                    "format_version": "2.1",
                }
            )
        )
    with pytest.raises(ValueError, match="the same image twice"):
        planfile.order_actions([action("a/b", "x"), action("a/b", "x")])


def test_the_schema_enums_are_the_model_enums() -> None:
    schema = json.loads((Path(__file__).parent.parent / "schemas" / "plan.schema.json").read_text())
    action_fields = schema["properties"]["actions"]["items"]["properties"]
    assert action_fields["action"]["enum"] == [a.value for a in Action if a is not Action.KEEP]
    assert action_fields["reason"]["enum"] == [r.value for r in Reason if not r.keeps]
    assert schema["$defs"]["keptReason"]["enum"] == [r.value for r in KEEPING]
    assert schema["properties"]["kept"]["items"]["properties"]["reason"] == {"$ref": "#/$defs/keptReason"}
    # The columns layout's codes: every value once, and the schema's maximum is the last code.
    columns = schema["properties"]["columns"]["items"]["properties"]
    for name, enum in (("action", Action), ("reason", Reason)):
        table = schema["$defs"][f"{name}Codes"]["enum"]
        assert sorted(table) == sorted(e.value for e in enum)
        assert columns[name]["items"]["maximum"] == len(table) - 1
    kinds = schema["properties"]["inputs"]["items"]["properties"]["kind"]["enum"]
    assert kinds == [k.value for k in InputKind]


def test_the_file_writes_one_compact_line_per_image_record() -> None:
    text = planfile.dumps(small_plan())
    lines, document = text.splitlines(), json.loads(text)
    for records, indent, count in [
        ("actions", "  ", 10),
        ("kept", "  ", 6),
        ("repositories", "    ", 4),
    ]:
        start = lines.index(f'{indent}"{records}": [') + 1
        listed = [line.strip().rstrip(",") for line in lines[start : start + count]]
        assert lines[start + count].strip() in ("]", "],")
        entries = document["summary"][records] if records == "repositories" else document[records]
        compact = [json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for e in entries]
        assert listed == compact


def test_write_plan_file_returns_the_content_hash(tmp_path: Path) -> None:
    written = planfile.write_plan_file(small_plan(), tmp_path / "p.json")
    assert written == planfile.content_hash(small_plan())
    assert json.loads((tmp_path / "p.json").read_text())["content_sha256"] == written


def _format_timestamp_before(moment: datetime) -> str:
    """The implementation before the UTC fast path: the oracle for it."""
    if moment.tzinfo is None:
        raise ValueError("naive")
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat().removesuffix("+00:00") + "Z"


@properties
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        max_value=datetime(2300, 1, 1),
        timezones=st.sampled_from([UTC, UTC, timezone(timedelta(0)), timezone(timedelta(hours=-7))])
        | st.timezones(),
    )
)
def test_format_timestamp_agrees_with_its_former_self(moment: datetime) -> None:
    assert planfile.format_timestamp(moment) == _format_timestamp_before(moment)


# --- the compiled checks of the image records agree with jsonschema ----------------------------------

_SCHEMA = decode._inlined_schema()
_RECORD_SCHEMAS = {key: _SCHEMA["properties"][key] for key in ("actions", "kept", "columns")}
_VALID_RECORDS = {
    **{key: json.loads(planfile.dumps(small_plan()))[key][0] for key in ("actions", "kept")},
    "columns": json.loads(planfile.dumps(small_plan(), columns=True))["columns"][0],
}
_DIGEST = digest("x")
# Values near the edges of each keyword: valid ones, a trailing newline ($ matches before it), wrong case,
# wrong types, bool against integer, integral floats, bounds of lengths and minimums.
edge_values = st.sampled_from(
    [
        None, True, False, 0, -1, 1, 2.0, 2.5, -0.0, 10**20, "", "a", "ab", "a" * 256, "a" * 257, "A/b",
        "a//b", "a/b", "a-b_c.d", "a__b", "a___b", _DIGEST, _DIGEST + "\n", _DIGEST.upper(), _DIGEST[:-1],
        "2026-01-15T12:00:00Z", "2026-01-15T12:00:00.000001Z", "2026-01-15T12:00:00.0001Z",
        "2026-01-15T12:00:00Z\n", "delete", "archive", "keep", "expired", "with_parent", "in_use",
        [], ["x"], [""], ["x" * 300], ["x" * 301], [1], [None], {}, {"a": 1},
    ]
)  # fmt: skip


@st.composite
def mutated_records(draw: st.DrawFn, key: str) -> object:
    record: dict[str, object] = dict(_VALID_RECORDS[key])
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        field = draw(st.sampled_from([*record, "artifactType"]))
        if draw(st.booleans()):
            record[field] = draw(edge_values | json_values)
        else:
            record.pop(field, None)
    return record if draw(st.integers(0, 9)) else draw(edge_values)


@settings(deadline=None, max_examples=400)
@given(
    st.sampled_from(["actions", "kept", "columns"]).flatmap(
        lambda k: st.tuples(st.just(k), mutated_records(k))
    )
)
def test_compiled_record_checks_agree_with_jsonschema(case: tuple[str, object]) -> None:
    key, record = case
    schema = _RECORD_SCHEMAS[key]
    for value in (record, [record], [_VALID_RECORDS[key], record]):
        expected = jsonschema.Draft202012Validator(schema).is_valid(value)
        event(f"{key} valid={expected}")
        assert compile_check(schema)(value) is expected


def test_compile_check_refuses_what_it_does_not_know() -> None:
    for schema in ({"maxItems": 3}, {"enum": [1]}, {"patternProperties": {"^x": {"type": "string"}}}):
        with pytest.raises(ValueError, match="compile_check does not support"):
            compile_check(schema)


def test_a_bad_record_is_reported_by_jsonschema_with_its_path() -> None:
    document = json.loads(planfile.dumps(small_plan()))
    document["kept"][1]["imageDigest"] = _DIGEST.upper()
    with pytest.raises(ConfigError, match=r"not a valid plan file \(1 errors\)") as raised:
        planfile.loads(_rehash(document), source="p.json")
    assert raised.value.errors[0].startswith("p.json::$.kept[1].imageDigest: ")


def test_a_digest_with_a_trailing_newline_is_refused() -> None:
    """jsonschema's `$` matches before a final newline (re.search): maxLength closes that gap."""
    document = json.loads(planfile.dumps(small_plan()))
    document["actions"][0]["imageDigest"] += "\n"
    with pytest.raises(ConfigError, match=r"not a valid plan file") as raised:
        planfile.loads(_rehash(document), source="p.json")
    assert raised.value.errors[0].startswith("p.json::$.actions[0].imageDigest: ")


@properties
@given(plans())
def test_the_written_hash_is_the_recipes(p: Plan) -> None:
    assert json.loads(planfile.dumps(p))["content_sha256"] == planfile.content_hash(p)


_COLUMN_SCHEMAS = _SCHEMA["properties"]["columns"]["items"]["properties"]


@settings(deadline=None, max_examples=400)
@given(st.sampled_from(sorted(_COLUMN_SCHEMAS)), st.lists(edge_values | json_values, max_size=6))
def test_the_bulk_checks_of_columns_agree_with_jsonschema(column: str, value: list[object]) -> None:
    """A column of scalars is checked by C loops (types as a set, min and max): the same answers."""
    schema = _COLUMN_SCHEMAS[column]
    expected = jsonschema.Draft202012Validator(schema).is_valid(value)
    event(f"{column} valid={expected}")
    assert compile_check(schema)(value) is expected
