"""The invariant of apply, as a property: a plan file can only narrow what apply does, never widen it.

For any plan file P, however crafted (actions added for any live image with any parent, reason and action,
actions dropped, tags edited, the embedded policy weakened, its hash fixed or not, the summary and content
hash recomputed), `apply P` deletes only images that a fresh decision with the repository's policies on
the live state and live usage removes, AND that P lists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrgc import decide
from ecrgc.aws import Registry
from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.model import Action
from ecrgc.policy import load_policies
from ecrgc.sandbox import Sandbox
from ecrgc.usage import collector
from tests.apply.tamper import live_images, record, sha256_of, write
from tests.apply.world import ACCOUNT, NOW, REGION, apply_file, build_world, images, make_plan, write_policy

_POLICY_EDITS = {
    "none": lambda spec: None,
    "no hold": lambda spec: spec["rules"].pop("holdTags"),
    "no protect": lambda spec: spec.pop("protect"),
    "keep none": lambda spec: spec["rules"].update(keepLatest=0),
    "no age": lambda spec: spec["rules"].pop("olderThan"),
}


def fresh_removals(directory: Path) -> set[tuple[str, str]]:
    """What deciding the live registry now, with the repository's policies and live usage, removes."""
    policies = load_policies([directory / "web.yaml"])
    in_use = decide.in_use(collector()(policies), account=ACCOUNT, region=REGION)
    registry = Registry(REGION)
    removed: set[tuple[str, str]] = set()
    for name, _, _ in registry.list_repositories(lambda name: any(p.selects(name) for p in policies)):
        (policy,) = [p for p in policies if p.selects(name)]
        decisions = decide.decide(registry.scan_repository(name), in_use, policy, now=NOW)
        removed |= {(name, d.image.digest) for d in decisions if d.action is not Action.KEEP}
    return removed


@settings(
    max_examples=15,
    deadline=None,  # a shared machine: per-example time limits would measure the neighbours
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_apply_deletes_only_what_a_fresh_decision_removes_and_the_plan_lists(
    ecr: Sandbox, tmp_path: Path, data: st.DataObject
) -> None:
    with ecr.registry.lock:
        ecr.registry.repositories.clear()
    build_world(ecr, tmp_path)
    plan = make_plan(tmp_path, write_policy(tmp_path))
    document = json.loads(plan.read_text())
    live = live_images("app/web", "app/api")
    fake = "sha256:" + "e" * 64

    document["actions"] = [
        _edited(action, data) for action in document["actions"] if data.draw(st.booleans(), "keep action")
    ]
    for key in data.draw(st.lists(st.sampled_from(sorted(live)), max_size=6, unique=True), "added"):
        parent = data.draw(st.sampled_from([None, fake, *(d for _, d in sorted(live))]), "parent")
        action = data.draw(st.sampled_from(["delete", "delete", "archive"]), "action")
        document["actions"].append(record(live[key], parent=parent, action=action))
    policy = document["policies"][0]
    edit = data.draw(st.just("none") | st.sampled_from(sorted(_POLICY_EDITS)), "policy edit")  # half apply
    _POLICY_EDITS[edit](policy["document"]["spec"])
    if data.draw(st.booleans(), "policy re-hashed"):
        policy["sha256"] = sha256_of(policy["document"])
    listed = {(a["repository"], a["imageDigest"]) for a in document["actions"]}
    allowed = fresh_removals(tmp_path) & listed
    before = images(ecr)

    try:
        apply_file(write(plan, document), workers=2)
    except (PlanRefused, ConfigError):
        assert images(ecr) == before
    assert before - images(ecr) <= allowed


def _edited(action: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """An action of the real plan, its tags, parent or reason perhaps edited."""
    match data.draw(st.sampled_from(["as is", "tags", "parent", "reason"]), "edit"):
        case "tags":
            return {**action, "imageTags": data.draw(st.sampled_from([[], ["v1"], ["release-9"]]))}
        case "parent":
            return {**action, "parent": data.draw(st.sampled_from([None, "sha256:" + "f" * 64]))}
        case "reason":
            return {**action, "reason": data.draw(st.sampled_from(["expired", "with_parent"]))}
    return action
