"""Apply under faults: throttling, 5xx, kill -9, drift between plan and apply, foreign plans.

Every test compares the sandbox before and after: nothing outside the plan and nothing protected is ever
deleted, and the report says what happened to each planned image.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from ecrgc.apply import ApplyResult
from ecrgc.apply.report import load_report_file
from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.model import OutcomeReason, OutcomeStatus, Reason
from ecrgc.planfile import load_plan_file
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


def _many(sandbox: Sandbox, repositories: int, per_repository: int) -> None:
    for r in range(repositories):
        for n in range(per_repository):
            sandbox.registry.push_image(f"app/r{r:02d}", tags=[f"b{n}"], pushed_at=OLD.timestamp() + n)


@pytest.mark.e2e
def test_kill_9_mid_apply_then_reapply_finishes_the_rest(ecr: Sandbox, tmp_path: Path) -> None:
    _many(ecr, repositories=6, per_repository=301)  # 3 calls of 100 per repository
    plan = make_plan(tmp_path, write_policy(tmp_path, image_list=None))
    planned = {(a.repository, a.digest) for a in load_plan_file(plan).actions}
    before = images(ecr)
    ecr.knobs.latency_ms_by_operation["BatchDeleteImage"] = 300.0
    env = {**os.environ, "LOGDIR": str(tmp_path / "logs")}
    command = [
        str(ECRGC),
        "apply",
        str(plan),
        "--auto-approve",
        "--workers",
        "1",
        "--policies",
        str(tmp_path),
    ]

    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while ecr.calls["BatchDeleteImage"] < 4 and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(1.0)  # the call in flight when the client died still completes on the server (as on ECR)
    interrupted = images(ecr)
    ecr.knobs.latency_ms_by_operation.clear()

    assert process.returncode == -signal.SIGKILL
    assert before - planned < interrupted < before  # some deleted, not all, nothing unplanned
    (partial,) = (tmp_path / "logs").glob("apply-*.jsonl")
    assert not load_report_file(partial).complete

    resumed = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)

    assert resumed.returncode == 0, resumed.stderr
    assert images(ecr) == before - planned
    report = max((tmp_path / "logs").glob("apply-*.jsonl"))
    counts = load_report_file(report).counts()
    assert counts[OutcomeStatus.ALREADY_ABSENT] == len(before - interrupted)
    assert counts[OutcomeStatus.DELETED] == len(interrupted - (before - planned))


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
