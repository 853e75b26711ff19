"""Archived multi-arch indexes end to end on the sandbox: planned, applied, and planned again.

An archived index cannot be pulled, so its children are unknown; it must neither stop the scan nor let its
possible children be removed while it is kept.
"""

from __future__ import annotations

from pathlib import Path

from ecrgc.apply import ApplyResult
from ecrgc.model import Action, OutcomeStatus
from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox
from tests.apply.world import DAY, NOW, OLD, apply_file, images, make_plan, write_policy

WEB = "app/web"


def _apply(path: Path) -> ApplyResult:
    return apply_file(path, workers=2)


def _planned(path: Path) -> set[tuple[str, Action]]:
    return {(action.digest, action.action) for action in load_plan_file(path).actions}


def _multi_arch(sandbox: Sandbox, tag: str) -> tuple[str, tuple[str, ...]]:
    index = sandbox.registry.push_image(
        WEB, tags=[tag], pushed_at=OLD, platforms=["linux/amd64", "linux/arm64"]
    )
    return index, tuple(sandbox.registry.get(WEB).images[index].children)


def test_an_archive_policy_plans_again_after_archiving_a_multi_arch_image(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.clock.set(NOW)
    index, children = _multi_arch(sandbox, "v1")
    sandbox.registry.push_image(WEB, tags=["v5"], pushed_at=NOW - DAY)
    policy = write_policy(tmp_path, action="archive", image_list=None)

    first = make_plan(tmp_path, policy)
    assert _planned(first) == {(digest, Action.ARCHIVE) for digest in (index, *children)}
    assert {o.status for o in _apply(first).report.outcomes} == {OutcomeStatus.ARCHIVED}

    later = sandbox.registry.push_image(WEB, tags=["v0"], pushed_at=OLD - DAY)
    second = make_plan(tmp_path, policy)  # sees the archived index, whose manifest cannot be read

    assert _planned(second) == {(later, Action.ARCHIVE)}  # the archived children stay with their index
    assert [o.status for o in _apply(second).report.outcomes] == [OutcomeStatus.ARCHIVED]
    assert {sandbox.registry.get(WEB).images[d].status for d in (index, *children, later)} == {"ARCHIVED"}


def test_a_held_archived_index_keeps_every_image_that_could_be_its_child(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.clock.set(NOW)
    index, children = _multi_arch(sandbox, "release-1")
    sandbox.registry.archive(WEB, index)
    stray = sandbox.registry.push_image(
        WEB, pushed_at=OLD, salt="stray"
    )  # untagged: a child, for all we know
    expired = sandbox.registry.push_image(WEB, tags=["v1"], pushed_at=OLD)
    sandbox.registry.push_image(WEB, tags=["v5"], pushed_at=NOW - DAY)
    before = images(sandbox)

    plan = make_plan(tmp_path, write_policy(tmp_path, image_list=None))
    assert _planned(plan) == {(expired, Action.DELETE)}
    assert [o.status for o in _apply(plan).report.outcomes] == [OutcomeStatus.DELETED]

    assert images(sandbox) == before - {(WEB, expired)}
    assert {(WEB, d) for d in (*children, stray)} <= images(sandbox)
