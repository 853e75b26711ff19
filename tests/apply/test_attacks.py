"""The attacks of issue 11, each by someone who can push to the plan's branch: refused, nothing deleted.

Every crafted plan here has a correct summary and content hash (tests/apply/tamper.py), so only what apply
derives afresh (the repository's policies, live relations, a fresh decision) stands between it and the
registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecrgc.cli import app
from ecrgc.errors import PlanRefused
from ecrgc.model import OutcomeReason, OutcomeStatus, Reason
from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox
from tests.apply.tamper import live_image, record, sha256_of, write
from tests.apply.world import (
    ACCOUNT,
    DAY,
    NOW,
    REGION,
    apply_file,
    build_world,
    images,
    make_plan,
    why,
    write_policy,
)


def test_an_embedded_policy_stripped_of_its_protections_is_refused(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    document = json.loads(plan.read_text())
    policy = document["policies"][0]
    del policy["document"]["spec"]["rules"]["holdTags"], policy["document"]["spec"]["protect"]
    document["actions"] += [
        record(live_image("app/web", world.held)),
        record(live_image("app/api", world.api_used)),
    ]
    before = images(ecr)

    with pytest.raises(
        PlanRefused, match=r"policies\[0\]\.sha256: .* is not the hash of the policy document"
    ):
        apply_file(write(plan, document))
    policy["sha256"] = sha256_of(policy["document"])  # the hash fixed too: the reviewer sees a new hash
    with pytest.raises(PlanRefused, match=r"policy 'web' embedded in the plan .* is not .*web\.yaml"):
        apply_file(write(plan, document))

    assert images(ecr) == before


def test_plan_check_refuses_the_edited_policy_too(
    ecr: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(ecr, tmp_path)
    (tmp_path / "policies").mkdir()
    plan = make_plan(tmp_path, write_policy(tmp_path / "policies", image_list="../in-use.txt"))
    document = json.loads(plan.read_text())
    policy = document["policies"][0]
    policy["document"]["spec"]["rules"]["keepLatest"] = 0
    policy["sha256"] = sha256_of(policy["document"])
    write(plan, document)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["plan", "--check", str(plan)])

    assert result.exit_code == 3
    assert "policy 'web' embedded in the plan" in result.stderr
    assert "policies/web.yaml" in result.stderr


def test_without_a_policy_set_apply_refuses_and_says_how_to_pass_one(
    ecr: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    monkeypatch.chdir(tmp_path)  # the policy is beside the plan, not in policies/
    before = images(ecr)

    result = CliRunner().invoke(app, ["apply", str(plan), "--auto-approve"])

    assert result.exit_code == 3
    assert "pass --policies DIR" in result.stderr
    assert "embedded policies are never the authority" in result.stderr
    assert images(ecr) == before


def test_a_fake_parent_does_not_get_a_kept_image_deleted(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    young = ecr.registry.push_image("app/web", tags=["v4"], pushed_at=NOW - 2 * DAY)  # not newest: too young
    plan = make_plan(tmp_path, write_policy(tmp_path))
    document = json.loads(plan.read_text())
    nowhere = "sha256:" + "e" * 64  # never in the registry: "deleted by an earlier apply of this plan"
    document["actions"] += [
        record(live_image("app/web", world.newest), parent=nowhere),
        record(live_image("app/web", young), parent=nowhere),
        record(live_image("app/web", world.held), parent=world.expired),  # a real image that lists nothing
    ]
    before = images(ecr)

    result = apply_file(write(plan, document))

    outcomes = {o.digest: (o.status, why(o)) for o in result.report.outcomes}
    assert outcomes[world.newest] == (OutcomeStatus.SKIPPED, Reason.NEWEST_N)
    assert outcomes[young] == (OutcomeStatus.SKIPPED, Reason.TOO_YOUNG)
    assert outcomes[world.held] == (OutcomeStatus.SKIPPED, OutcomeReason.RELATION_CHANGED)
    assert {("app/web", world.newest), ("app/web", young), ("app/web", world.held)} <= images(ecr)
    assert before - images(ecr) == {
        (o.repository, o.digest) for o in result.report.outcomes if o.status is OutcomeStatus.DELETED
    }


def test_a_duplicate_key_is_refused_whichever_list_a_reader_would_see(ecr: Sandbox, tmp_path: Path) -> None:
    world = build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    document = json.loads(plan.read_text())
    document["actions"].append(record(live_image("app/web", world.held)))
    text = write(plan, document).read_text()
    plan.write_text(text.replace("{", '{\n  "actions": [],', 1))  # a diff shows the empty list first
    before = images(ecr)

    with pytest.raises(PlanRefused, match=r"the key 'actions' appears twice in one object"):
        apply_file(plan)
    with pytest.raises(PlanRefused, match="appears twice"):
        load_plan_file(plan)  # so `ecrgc show` and `ecrgc validate` refuse it too
    assert images(ecr) == before


def test_an_action_moved_to_a_laxer_policy_is_decided_by_the_repositorys_owner(
    ecr: Sandbox, tmp_path: Path
) -> None:
    world = build_world(ecr, tmp_path)
    lax = write_policy(
        tmp_path, name="lax", include="^other/", keep_latest=0, hold="^never$", image_list=None
    )
    plan = make_plan(tmp_path, write_policy(tmp_path), lax)
    document = json.loads(plan.read_text())
    document["actions"].append(record(live_image("app/web", world.held), policy="lax"))
    before = images(ecr)

    result = apply_file(write(plan, document))

    (held,) = [o for o in result.report.outcomes if o.digest == world.held]
    assert (held.status, held.reason) == (OutcomeStatus.SKIPPED, OutcomeReason.NOT_SELECTED)
    assert ("app/web", world.held) in images(ecr)
    assert before - images(ecr) <= {(o.repository, o.digest) for o in load_plan_file(plan).actions}


def test_an_image_in_use_by_another_policys_source_stays_when_that_policys_actions_are_cut(
    ecr: Sandbox, tmp_path: Path
) -> None:
    # The plan protects the union of every policy's sources. An attacker drops all of app/api's actions, so
    # that no planned repository belongs to `api`, and adds an image only `api`'s list protects: apply must
    # still read that list, as the plan did.
    world = build_world(ecr, tmp_path)
    host = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    (tmp_path / "api-use.txt").write_text(f"{host}/app/web:v1\n", encoding="utf-8")
    web = write_policy(tmp_path, include="^app/web$", image_list=None)
    api = write_policy(tmp_path, name="api", include="^app/api$", image_list="api-use.txt")
    plan = make_plan(tmp_path, web, api)
    document = json.loads(plan.read_text())
    assert world.expired not in {a["imageDigest"] for a in document["actions"]}  # kept: in use
    document["actions"] = [a for a in document["actions"] if a["repository"] != "app/api"]
    document["actions"].append(record(live_image("app/web", world.expired)))
    before = images(ecr)

    result = apply_file(write(plan, document))

    (forged,) = [o for o in result.report.outcomes if o.digest == world.expired]
    assert (forged.status, why(forged)) == (OutcomeStatus.SKIPPED, Reason.IN_USE)
    assert forged.detail == f"in use by {tmp_path}/api-use.txt:1"  # the words of the live decision's evidence
    assert ("app/web", world.expired) in images(ecr)
    assert before - images(ecr) <= {(o.repository, o.digest) for o in load_plan_file(plan).actions}


def test_show_says_which_embedded_policy_is_not_the_repositorys(ecr: Sandbox, tmp_path: Path) -> None:
    build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    document = json.loads(plan.read_text())
    honest = document["policies"][0]["sha256"][:12]
    policy = document["policies"][0]
    del policy["document"]["spec"]["protect"]
    policy["sha256"] = sha256_of(policy["document"])
    write(plan, document)

    text = CliRunner().invoke(app, ["show", str(plan), "--policies", str(tmp_path)])
    markdown = CliRunner().invoke(
        app, ["show", str(plan), "--policies", str(tmp_path), "--format", "markdown"]
    )

    assert text.exit_code == markdown.exit_code == 0
    assert f"web (sha256 {policy['sha256'][:12]}, NOT the repository's policy of that name)" in text.stdout
    assert "`web` ❌ sha256" in markdown.stdout
    assert honest not in text.stdout
