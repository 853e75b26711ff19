"""Rehearsal of the GitOps loop: the workflows' own `run:` scripts, executed step by step with bash against
the ECR sandbox (AWS) and the GitHub fake, in a throw-away policy repository.

schedule: plan → prune expired → commit ▸ pull request: validate → check → sticky comment → job summary
▸ merge ▸ apply every unexpired plan → report → comment on the merged pull request ▸ re-apply (no-op).

Only what needs github.com is done by hand here: opening the pull request (`gh pr create`) and merging.
Each step's `env:` is taken from the workflow, with its `${{ … }}` expressions filled in from `Runner.context`
(an expression the rehearsal does not know fails the test, so a renamed output cannot go unnoticed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecrgc.apply.report import load_report_file
from ecrgc.model import Plan
from ecrgc.planfile import FORMAT_VERSION, content_hash, load_plan_file, write_plan_file
from ecrgc.sandbox import Sandbox
from tests.github_fake import FakeGitHub, GitHubState, serve

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = ROOT / "action.yml"
ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
REPO = "acme/policies"
PR = 12
BOT = "github-actions[bot]"
POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: svc}
spec:
  region: ap-northeast-1
  repositories:
    include: ['^svc/']
  rules:
    keepLatest: 2
    olderThan: 14d
  protect:
    imageLists: ['IMG_LIST/*_IMG_LIST.txt']
"""
_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def step(workflow: str, name: str) -> dict[str, Any]:
    """The step called `name` of a workflow, or of the composite action (`workflow="action.yml"`)."""
    if workflow == "action.yml":
        document = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
        candidates: list[dict[str, Any]] = document["runs"]["steps"]
    else:
        document = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))
        candidates = [s for job in document["jobs"].values() for s in job["steps"]]
    found = [s for s in candidates if s.get("name") == name]
    assert len(found) == 1, f"{workflow} has no step named {name!r}"
    return found[0]


@dataclass
class Runner:
    """Runs one workflow step's script the way GitHub's ubuntu runner does (`bash -eo pipefail`)."""

    repo: Path
    temp: Path
    env: dict[str, str]
    context: dict[str, str] = field(default_factory=dict)

    def run(self, workflow: str, name: str) -> tuple[int, dict[str, str], str]:
        """The exit code, the step's outputs and its stderr."""
        spec = step(workflow, name)
        outputs = self.temp / "github_output"
        outputs.write_text("", encoding="utf-8")
        script = self.temp / "step.sh"
        script.write_text(spec["run"], encoding="utf-8")
        env = {**self.env, "GITHUB_OUTPUT": str(outputs)}
        env |= {key: self.expand(str(value)) for key, value in spec.get("env", {}).items()}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        parsed = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines() if line)
        return result.returncode, parsed, result.stdout + result.stderr

    def expand(self, value: str) -> str:
        def one(match: re.Match[str]) -> str:
            assert match.group(1) in self.context, f"the rehearsal does not know ${{{{ {match.group(1)} }}}}"
            return self.context[match.group(1)]

        return _EXPRESSION.sub(one, value)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, timeout=60)
    return result.stdout.strip()


def expired_plan() -> Plan:
    created = datetime.now(UTC) - timedelta(days=30)
    return Plan(
        format_version=FORMAT_VERSION,
        ecrgc_version="0.1.0",
        created_at=created,
        expires_at=created + timedelta(days=7),
        account=ACCOUNT,
        region=REGION,
        policies=(),
        inputs=(),
        actions=(),
        repository_deletions=(),
        protected=(),
        summary=(),
    )


@dataclass
class World:
    sandbox: Sandbox
    github: FakeGitHub
    runner: Runner
    builds: list[str]


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    yield from serve(GitHubState(users={"actions-token": BOT}, installation_tokens={"actions-token"}))


@pytest.fixture
def world(sandbox: Sandbox, github: FakeGitHub, tmp_path: Path) -> World:
    """A registry of eight month-old builds (one in use) and a policy repository that knows it."""
    now = datetime.fromtimestamp(sandbox.clock.now(), UTC)
    builds = [
        sandbox.registry.push_image("svc/api", tags=[f"build-{i}"], pushed_at=now - timedelta(days=30 + i))
        for i in range(8)
    ]
    repo = tmp_path / "policies-repo"
    (repo / "policies").mkdir(parents=True)
    (repo / "policies" / "svc.yaml").write_text(POLICY, encoding="utf-8")
    (repo / "IMG_LIST").mkdir()
    (repo / "IMG_LIST" / "PRD_IMG_LIST.txt").write_text(f"{HOST}/svc/api:build-4\n", encoding="utf-8")
    write_plan_file(expired_plan(), repo / "plans" / "20250101T000000Z.json")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "dev")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "policies")
    temp = tmp_path / "runner"
    temp.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        **sandbox.environ(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SERVER_URL": "https://github.test",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_STEP_SUMMARY": str(temp / "step_summary.md"),
        "RUNNER_TEMP": str(temp),
    }
    context = {
        "runner.temp": str(temp),
        "github.token": "actions-token",
        "github.event.pull_request.number": str(PR),
    }
    return World(sandbox=sandbox, github=github, runner=Runner(repo, temp, env, context), builds=builds)


def schedule(world: World) -> str:
    """ecrgc-schedule: plan, prune, and (by hand, as its last step does) commit on the plan branch."""
    runner = world.runner
    code, outputs, log = runner.run("ecrgc-schedule.yml", "Plan")
    assert code == 0, log
    plan = outputs["plan"]
    code, _, log = runner.run("ecrgc-schedule.yml", "Remove expired plan files")
    assert code == 0, log
    assert log.strip() == "plans/20250101T000000Z.json"
    runner.context["github.event.pull_request.base.sha"] = git(runner.repo, "rev-parse", "HEAD")
    git(runner.repo, "switch", "--quiet", "-C", "ecrgc/scheduled-plan")
    git(runner.repo, "add", "-A", "plans/")
    git(runner.repo, "commit", "--quiet", "-m", f"ecrgc: scheduled plan {plan}")
    return plan


def check_pull_request(world: World) -> tuple[str, str]:
    """ecrgc-plan on the pull request: its outcome ('0' passed, '1' failed) and the sticky comment."""
    runner = world.runner
    code, _, log = runner.run("ecrgc-plan.yml", "Validate policies and plans")
    assert code == 0, log
    code, outputs, log = runner.run("ecrgc-plan.yml", "Check and render each new or changed plan")
    assert code == 0, log
    code, _, log = runner.run("ecrgc-plan.yml", "Post the sticky plan comment")
    assert code == 0, log
    code, _, log = runner.run("ecrgc-plan.yml", "Write the full renderings to the job summary")
    assert code == 0, log
    [comment] = world.github.state.bodies(REPO, PR)
    return outputs["failed"], comment


def merge(world: World) -> str:
    repo = world.runner.repo
    git(repo, "switch", "--quiet", "main")
    git(repo, "merge", "--quiet", "--no-ff", "-m", f"Merge pull request #{PR}", "ecrgc/scheduled-plan")
    sha = git(repo, "rev-parse", "HEAD")
    world.github.state.commit_pulls[(REPO, sha)] = [{"number": PR, "merge_commit_sha": sha}]
    world.runner.env["GITHUB_SHA"] = sha
    return sha


def apply(world: World) -> tuple[str, str]:
    """ecrgc-apply: its outcome ('0' all applied) and the log."""
    code, _, log = world.runner.run("ecrgc-apply.yml", "List the unexpired plans, oldest first")
    assert code == 0, log
    code, outputs, log = world.runner.run("ecrgc-apply.yml", "Apply every unexpired plan, oldest first")
    assert code == 0, log
    code, _, post_log = world.runner.run(
        "ecrgc-apply.yml", "Post the apply summary on the merged pull request"
    )
    assert code == 0, post_log
    return outputs["failed"], log


def present(world: World) -> set[str]:
    return set(world.sandbox.registry.get("svc/api").images)


@pytest.mark.e2e
def test_the_reviewed_bytes_are_the_applied_bytes(world: World) -> None:
    plan_path = schedule(world)
    reviewed = (world.runner.repo / plan_path).read_bytes()
    plan = load_plan_file(world.runner.repo / plan_path)
    planned = {a.digest for a in plan.actions}
    # keepLatest 2 keeps build-0 and build-1; build-4 is in use: the other five are planned.
    assert planned == {world.builds[i] for i in (2, 3, 5, 6, 7)}

    failed, comment = check_pull_request(world)

    assert failed == "0"
    head = "**Merging this pull request deletes 5 images**, each re-checked by ecrgc-apply right before"
    assert comment.startswith(f"<!-- ecrgc:plan -->\n{head}")
    assert comment.count("Merging this pull request") == 1
    assert f"\n\n---\n\n#### `{plan_path}` ✅ passes its check" in comment
    assert "**ecrgc: 5 images to delete" in comment
    summary = Path(world.runner.env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert "**ecrgc: 5 images to delete" in summary
    assert "<details><summary>svc/api: 5 to delete</summary>" in summary
    run = "https://github.test/acme/policies/actions/runs/4242"
    assert f"[the CI run]({run}) has the full rendering" in comment

    merge(world)
    assert (world.runner.repo / plan_path).read_bytes() == reviewed
    failed, _ = apply(world)

    assert failed == "0"
    assert present(world) == {world.builds[i] for i in (0, 1, 4)}
    report = load_report_file(world.runner.repo / "reports" / f"{Path(plan_path).stem}.jsonl")
    assert report.plan_sha256 == content_hash(plan) == json.loads(reviewed)["content_sha256"]
    assert {o.digest for o in report.outcomes if o.status == "deleted"} == planned
    plan_comment, apply_comment = world.github.state.bodies(REPO, PR)
    assert plan_comment == comment
    assert apply_comment.startswith(f"<!-- ecrgc:apply -->\n#### `{plan_path}` (exit 0)")
    assert "[Run 4242, attempt 1](https://github.test/acme/policies/actions/runs/4242)" in apply_comment

    # Re-running the apply (a re-run of the job on the same commit) deletes nothing more.
    failed, _ = apply(world)

    assert failed == "0"
    assert present(world) == {world.builds[i] for i in (0, 1, 4)}
    again = load_report_file(world.runner.repo / "reports" / f"{Path(plan_path).stem}.jsonl")
    assert {o.status for o in again.outcomes} == {"already_absent"}
    assert len(world.github.state.bodies(REPO, PR)) == 2  # the apply comment was updated, not repeated


@pytest.mark.e2e
def test_a_new_deployment_fails_the_check_and_apply_spares_it(world: World) -> None:
    plan_path = schedule(world)
    # After the plan was made, build-6 is deployed: the committed plan still lists it.
    listed = world.runner.repo / "IMG_LIST" / "PRD_IMG_LIST.txt"
    listed.write_text(listed.read_text(encoding="utf-8") + f"{HOST}/svc/api:build-6\n", encoding="utf-8")
    git(world.runner.repo, "commit", "--quiet", "-am", "deploy build-6")

    failed, comment = check_pull_request(world)

    assert failed == "1"
    title = comment.split("\n\n---\n\n")[1].splitlines()[0]
    assert title.startswith(f"#### `{plan_path}` ❌ **fails its check**: {plan_path}: 1 planned image")
    assert "(in_use)" in title
    code, _, _ = world.runner.run("ecrgc-plan.yml", "Fail when a plan no longer passes its check")
    assert code == 1

    # Merged anyway (say, by an administrator): apply re-verifies and skips the image now in use.
    merge(world)
    failed, log = apply(world)

    assert failed == "0", log  # exit 2: applied, with skipped images — a warning, not a failure
    assert "::warning file=" in log
    assert present(world) == {world.builds[i] for i in (0, 1, 4, 6)}


@pytest.mark.e2e
def test_a_pull_request_of_policies_only_shows_a_what_if_and_deletes_nothing(world: World) -> None:
    world.runner.context["github.event.pull_request.base.sha"] = git(world.runner.repo, "rev-parse", "HEAD")

    failed, comment = check_pull_request(world)

    assert failed == "0"
    head = "**Merging this pull request deletes no image**: it adds or changes no plan file."
    assert comment.startswith(f"<!-- ecrgc:plan -->\n{head}\n")
    assert "#### What-if: no plan file in this pull request; the policies would plan this now" in comment
    assert "**ecrgc: 5 images to delete" in comment
    assert present(world) == set(world.builds)
