"""apply_plan on the sandbox: exactly the plan, parents first, re-verified, idempotent, refused if stale."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ecrgc.apply import ApplyResult
from ecrgc.apply.verification import repository_policies
from ecrgc.aws import Registry
from ecrgc.commands import plan as plan_command
from ecrgc.errors import PlanRefused
from ecrgc.model import OnDrift, OutcomeReason, OutcomeStatus, Reason
from ecrgc.planfile import format_timestamp, load_plan_file, write_plan_file
from ecrgc.policy import load_policies
from ecrgc.sandbox import Sandbox
from ecrgc.targets import bind, load_targets
from ecrgc.usage import collector
from tests.apply.world import (
    ACCOUNT,
    NOW,
    REGION,
    apply_file,
    build_world,
    images,
    in_use,
    make_plan,
    planned_deletions,
    why,
    write_policy,
)

apply = apply_file


def statuses(result: ApplyResult) -> Counter[OutcomeStatus]:
    return Counter(o.status for o in result.report.outcomes)


def by_digest(result: ApplyResult) -> dict[str, tuple[OutcomeStatus, OutcomeReason | Reason | None]]:
    return {o.digest: (o.status, why(o)) for o in result.report.outcomes if o.digest}


def test_apply_deletes_exactly_the_plan_parents_first(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    before = images(ecr)
    assert {(a.repository, a.digest) for a in load_plan_file(plan).actions} == planned_deletions(world)

    result = apply(plan)

    # The sandbox rejects a child deleted in the same call as its index: all deleted means parents went first.
    assert statuses(result) == {OutcomeStatus.DELETED: len(planned_deletions(world))}
    assert images(ecr) == before - planned_deletions(world)
    assert not result.aborted
    assert result.report.plan_sha256 == json.loads(plan.read_text())["content_sha256"]
    # Per repository: one call for the top-level images, one for the children and referrers.
    assert ecr.calls["BatchDeleteImage"] == 3


def test_reapplying_a_finished_plan_changes_nothing(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    apply(plan)
    after_first = images(ecr)
    ecr.calls.reset()

    again = apply(plan)

    assert statuses(again) == {OutcomeStatus.ALREADY_ABSENT: len(planned_deletions(world))}
    assert images(ecr) == after_first
    assert ecr.calls["BatchDeleteImage"] == 0


def test_a_partly_applied_plan_is_finished_by_reapplying(ecr: Sandbox, tmp_path: Path) -> None:
    """As after kill -9 between the index's call and its children's: the orphans are still deleted."""
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    before = images(ecr)
    ecr.registry.delete("app/web", [{"imageDigest": world.index}, {"imageDigest": world.signed}])

    result = apply(plan)

    outcomes = by_digest(result)
    assert outcomes[world.index] == (OutcomeStatus.ALREADY_ABSENT, None)
    assert all(outcomes[d] == (OutcomeStatus.DELETED, None) for d in (*world.children, world.signature))
    assert images(ecr) == before - planned_deletions(world)


def test_dry_run_checks_everything_and_deletes_nothing(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    before = images(ecr)

    result = apply(plan, dry_run=True)

    assert statuses(result) == {OutcomeStatus.WOULD_APPLY: len(planned_deletions(world))}
    assert result.report.dry_run
    assert images(ecr) == before
    assert ecr.calls["BatchDeleteImage"] == 0


def test_drift_is_skipped_and_reported_and_the_rest_applied(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    before = images(ecr)
    web = ecr.registry.get("app/web")
    web.tag(web.images[world.expired], "release-2")  # a held tag appeared
    in_use(tmp_path, "app/api:v1", f"app/api@{world.api_old}")  # became in use

    result = apply(plan)

    outcomes = by_digest(result)
    assert outcomes[world.expired] == (OutcomeStatus.SKIPPED, OutcomeReason.TAGS_CHANGED)
    assert outcomes[world.api_old] == (OutcomeStatus.SKIPPED, Reason.IN_USE)
    assert images(ecr) == before - planned_deletions(world) | {
        ("app/web", world.expired),
        ("app/api", world.api_old),
    }
    assert statuses(result)[OutcomeStatus.DELETED] == len(planned_deletions(world)) - 2


def test_abort_on_drift_deletes_nothing(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    before = images(ecr)
    in_use(tmp_path, "app/api:v1", "app/web:v1")

    result = apply(plan, on_drift=OnDrift.ABORT)

    assert result.aborted
    assert images(ecr) == before
    assert by_digest(result)[world.expired] == (OutcomeStatus.SKIPPED, Reason.IN_USE)
    others = {o.reason for o in result.report.outcomes if o.digest != world.expired}
    assert others == {OutcomeReason.ABORTED}


def test_check_passes_a_fresh_plan_and_fails_a_drifted_one(ecr: Sandbox, tmp_path: Path) -> None:
    build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))

    def check() -> ApplyResult:
        return apply(plan, on_drift=OnDrift.ABORT, dry_run=True)

    assert not check().aborted
    in_use(tmp_path, "app/api:v1", "app/api:v0")
    assert check().aborted
    assert ecr.calls["BatchDeleteImage"] == 0


def test_a_child_that_a_new_kept_index_lists_is_kept(ecr: Sandbox, tmp_path: Path) -> None:
    from ecrgc.sandbox import manifests

    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    child = ecr.registry.get("app/web").images[world.children[0]]
    ecr.registry.put_image(
        "app/web", manifests.index([(child.digest, len(child.manifest), "linux/amd64")]), tag="release-3"
    )
    before = images(ecr)

    result = apply(plan)

    outcomes = by_digest(result)
    assert outcomes[world.children[0]] == (OutcomeStatus.SKIPPED, Reason.PART_OF_KEPT_IMAGE)
    assert outcomes[world.index] == (OutcomeStatus.DELETED, None)
    assert ("app/web", world.children[0]) in images(ecr)
    assert images(ecr) == before - planned_deletions(world) | {("app/web", world.children[0])}


def test_archive_plans_archive_and_reapply_as_done(ecr: Sandbox, tmp_path: Path) -> None:
    # Plain images only; archived multi-arch images are planned again in tests/aws/test_archived_indexes.py.
    old = [ecr.registry.push_image("app/arch", tags=[f"v{n}"], pushed_at=tmp_time(n)) for n in range(3)]
    ecr.registry.push_image("app/arch", tags=["v9"], pushed_at=NOW)
    plan = make_plan(tmp_path, write_policy(tmp_path, action="archive", image_list=None))

    first, second = apply(plan), apply(plan)

    assert statuses(first) == {OutcomeStatus.ARCHIVED: 3}
    assert {ecr.registry.get("app/arch").images[d].status for d in old} == {"ARCHIVED"}
    assert statuses(second) == {OutcomeStatus.ALREADY_ABSENT: 3}
    assert {o.reason for o in second.report.outcomes} == {OutcomeReason.ALREADY_ARCHIVED}


def test_a_repository_the_plan_empties_is_deleted_only_if_empty_now(ecr: Sandbox, tmp_path: Path) -> None:
    for n in range(3):
        ecr.registry.push_image("app/gone", tags=[f"v{n}"], pushed_at=tmp_time(n))
        ecr.registry.push_image("app/late", tags=[f"v{n}"], pushed_at=tmp_time(n))
    policy = write_policy(tmp_path, keep_latest=0, delete_empty=True, image_list=None)
    plan = make_plan(tmp_path, policy)
    assert load_plan_file(plan).repository_deletions == ("app/gone", "app/late")
    ecr.registry.push_image("app/late", tags=["new"])  # pushed after the plan

    result = apply(plan)

    repositories = {o.repository: o for o in result.report.outcomes if not o.digest}
    assert repositories["app/gone"].status is OutcomeStatus.DELETED
    assert (repositories["app/late"].reason, repositories["app/late"].code) == (
        OutcomeReason.NOT_EMPTY,
        "RepositoryNotEmptyException",
    )
    assert set(ecr.registry.repositories) == {"app/late"}
    again = apply(plan)
    assert {o.repository: o.status for o in again.report.outcomes if not o.digest}["app/gone"] is (
        OutcomeStatus.ALREADY_ABSENT
    )


def tmp_time(n: int) -> float:
    return (NOW.timestamp() - 200 * 86400) + n


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["target"].update(account_id="210987654321"), "content hash mismatch"),
        (lambda d: d.update(format_version="3.0"), "format_version '3.0' is not supported"),
    ],
)
def test_an_edited_plan_is_refused(ecr: Sandbox, tmp_path: Path, edit: Any, message: str) -> None:
    build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    document = json.loads(plan.read_text())
    edit(document)
    plan.write_text(json.dumps(document))
    before = images(ecr)

    with pytest.raises(PlanRefused, match=message):
        apply(plan)
    assert images(ecr) == before


def test_an_expired_plan_or_another_region_is_refused(ecr: Sandbox, tmp_path: Path) -> None:
    build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    before = images(ecr)

    expired = format_timestamp(NOW + plan_command.DEFAULT_EXPIRY)
    with pytest.raises(PlanRefused, match=f"the plan expired at {expired}; re-run ecrgc plan"):
        apply(plan, now=NOW + plan_command.DEFAULT_EXPIRY * 2)
    with pytest.raises(PlanRefused, match="the plan expired at"):  # the boundary of `plans list --unexpired`
        apply(plan, now=NOW + plan_command.DEFAULT_EXPIRY)
    with pytest.raises(PlanRefused, match=r"region ap-northeast-1 but .* region us-east-1"):
        apply(plan, region="us-east-1")
    assert images(ecr) == before


def test_a_targets_plan_is_checked_against_the_repositorys_policies_bound_to_that_target(
    ecr: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """targets.yaml leaves spec.region to the target: apply binds the repository's policy as plan did."""
    world = build_world(ecr, tmp_path)
    (tmp_path / "policies").mkdir()
    policy = write_policy(tmp_path / "policies", image_list="../in-use.txt")
    policy.write_text(policy.read_text().replace(f"  region: {REGION}\n", ""), encoding="utf-8")
    (tmp_path / "targets.yaml").write_text(
        "apiVersion: ecrgc/v1\nkind: Targets\nspec:\n  targets:\n"
        f'    - {{name: sandbox, account: "{ACCOUNT}", region: {REGION}, policies: [web]}}\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    (bound,) = bind(load_targets(Path("targets.yaml")), load_policies([Path("policies")])).values()
    made = plan_command.run_plan(bound, inventory=Registry(REGION), usage=collector(), now=NOW)
    plan = tmp_path / "plan.json"
    write_plan_file(made, plan)
    before = images(ecr)

    result = apply(plan, policies=repository_policies([]))

    assert statuses(result) == {OutcomeStatus.DELETED: len(planned_deletions(world))}
    assert images(ecr) == before - planned_deletions(world)
