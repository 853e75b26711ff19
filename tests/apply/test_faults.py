"""Apply under faults: throttling, 5xx, kill -9, drift between plan and apply, foreign plans.

Every test compares the sandbox before and after: nothing outside the plan and nothing protected is ever
deleted, and the report says what happened to each planned image.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from ecrgc.apply import ApplyResult
from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.model import OutcomeReason, OutcomeStatus, Reason
from ecrgc.sandbox import Sandbox
from tests.apply.world import (
    NOW,
    OLD,
    REGION,
    apply_file,
    build_world,
    images,
    make_plan,
    planned_deletions,
    tags,
    why,
    write_policy,
)

ECRGC = Path(sys.executable).parent / "ecrgc"


def apply(path: Path) -> ApplyResult:
    return apply_file(path)


def outcome(result: ApplyResult, digest: str) -> tuple[OutcomeStatus, OutcomeReason | Reason | None]:
    (found,) = [(o.status, why(o)) for o in result.report.outcomes if o.digest == digest]
    return found


def test_throttling_on_every_call_slows_apply_down_but_loses_nothing(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    before = images(ecr)
    ecr.calls.reset()
    ecr.knobs.throttle("*", rate=5, burst=1)

    result = apply(plan)

    assert Counter(o.status for o in result.report.outcomes) == {OutcomeStatus.DELETED: 7}
    assert images(ecr) == before - planned_deletions(world)
    assert (
        ecr.calls.total() > ecr.calls["BatchDeleteImage"] + ecr.calls["DescribeImages"]
    )  # throttled retries


def test_injected_5xx_fail_only_planned_images_and_reapplying_finishes(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    before = images(ecr)
    ecr.calls.reset()
    ecr.knobs.reseed(1)  # the first call, STS GetCallerIdentity, gets an injected 503 (and is retried)
    ecr.knobs.error_rate = 0.5

    first = apply(plan)

    assert {o.status for o in first.report.outcomes} <= {OutcomeStatus.DELETED, OutcomeStatus.FAILED}
    assert all(
        (o.reason, o.code) == (OutcomeReason.REGISTRY_ERROR, "ServerException")
        for o in first.report.outcomes
        if o.status is OutcomeStatus.FAILED
    )
    assert before - images(ecr) <= planned_deletions(world)
    assert ecr.calls["GetCallerIdentity"] >= 2
    ecr.knobs.error_rate = 0.0
    apply(plan)
    assert images(ecr) == before - planned_deletions(world)


def test_a_held_tag_or_a_new_push_onto_a_planned_tag_is_skipped(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    web = ecr.registry.get("app/web")
    web.tag(web.images[world.signed], "release-7")  # re-tagged with a held tag
    pushed = ecr.registry.push_image("app/web", tags=["v2"], pushed_at=NOW)  # v2 moves off the planned index
    before = images(ecr)

    result = apply(plan)

    assert outcome(result, world.signed) == (OutcomeStatus.SKIPPED, OutcomeReason.TAGS_CHANGED)
    assert outcome(result, world.signature) == (OutcomeStatus.SKIPPED, Reason.PART_OF_KEPT_IMAGE)
    assert outcome(result, world.index) == (OutcomeStatus.SKIPPED, OutcomeReason.TAGS_CHANGED)
    # The live state would still delete the (now untagged) index's children, but their index stays: skipped.
    assert {outcome(result, child) for child in world.children} == {
        (OutcomeStatus.SKIPPED, OutcomeReason.PARENT_KEPT)
    }
    kept = {world.signed, world.signature, world.index, *world.children}
    assert images(ecr) == before - {(r, d) for r, d in planned_deletions(world) if d not in kept}
    assert tags(ecr, "app/web", pushed) == {"v2"}
    assert tags(ecr, "app/web", world.signed) == {"release-7"}


def test_a_plan_for_another_account_is_refused(
    ecr: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    with Sandbox(account="210987654321", region=REGION) as other:
        other.registry.push_image("app/web", tags=["v1"], pushed_at=OLD)
        theirs = images(other)
        for name, value in other.environ().items():
            monkeypatch.setenv(name, value)

        with pytest.raises(PlanRefused, match=r"for account 123456789012 but .* account 210987654321"):
            apply(plan)
        assert images(other) == theirs
        assert other.calls["BatchDeleteImage"] == 0


def test_a_plan_with_one_digest_edited_is_refused(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    plan.write_text(plan.read_text().replace(world.expired, world.held))
    before = images(ecr)

    with pytest.raises(PlanRefused, match="content hash mismatch"):
        apply(plan)
    assert images(ecr) == before


def test_an_unparseable_plan_is_a_config_error(ecr: Sandbox, tmp_path: Path) -> None:
    build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    document = json.loads(plan.read_text())
    document["actions"] = "all of them"
    document.pop("content_sha256")
    plan.write_text(json.dumps(document))

    with pytest.raises(ConfigError, match="not an ecrgc plan"):
        apply(plan)


def test_a_repository_that_cannot_be_read_is_left_alone_and_the_rest_applied(
    ecr: Sandbox, tmp_path: Path
) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    index = ecr.registry.get("app/web").images[world.index]
    index.manifest = json.dumps({"schemaVersion": 2, "manifests": {}})  # an active index no one can parse
    before = images(ecr)

    result = apply(plan)

    web = {(o.status, o.reason, o.code) for o in result.report.outcomes if o.repository == "app/web"}
    assert web == {(OutcomeStatus.FAILED, OutcomeReason.UNREADABLE, "SourceUnavailable")}
    assert outcome(result, world.api_old) == (OutcomeStatus.DELETED, None)
    assert images(ecr) == before - {("app/api", world.api_old)}
