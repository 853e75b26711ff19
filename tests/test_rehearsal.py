"""Rehearsal of the GitOps loop: the workflows' own `run:` scripts, executed step by step with bash against
the ECR sandbox (AWS) and the GitHub fake, in a throw-away policy repository.

schedule: plan → prune expired → commit ▸ pull request: validate → check → sticky comment → job summary
▸ merge ▸ apply every unexpired plan → report → comment on the merged pull request ▸ re-apply (no-op).

Only what needs github.com is done by hand here: opening the pull request (`gh pr create`) and merging.
Each step's `env:` is taken from the workflow, with its `${{ … }}` expressions filled in from `Runner.context`
(an expression the rehearsal does not know fails the test, so a renamed output cannot go unnoticed).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ecrgc.apply.report import load_report_file
from ecrgc.model import Plan
from ecrgc.planfile import FORMAT_VERSION, content_hash, load_plan_file, write_plan_file
from ecrgc.sandbox import Sandbox
from tests.aws.conftest import _moto_api, moto  # noqa: F401  # the fresh-moto fixture, used by name
from tests.aws.test_targets_moto import EAST, LOCKED, OTHER, TOKYO, _images, _session, registries
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
    imageLists: ['../IMG_LIST/*_IMG_LIST.txt']
"""
_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")


def step(workflow: str, name: str, job: str | None = None) -> dict[str, Any]:
    """The step called `name` of a workflow (of its job `job`, when given), or of the composite action
    (`workflow="action.yml"`)."""
    if workflow == "action.yml":
        document = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
        candidates: list[dict[str, Any]] = document["runs"]["steps"]
    else:
        document = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))
        jobs = [j for n, j in document["jobs"].items() if job in (None, n)]
        candidates = [s for j in jobs for s in j["steps"]]
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
    artifacts: Path | None = None
    """Where `upload`/`download` keep artifacts (one directory each), shared by the jobs of a run."""

    def run(self, workflow: str, name: str, job: str | None = None) -> tuple[int, dict[str, str], str]:
        """The exit code, the step's outputs and its stderr."""
        spec = step(workflow, name, job)
        outputs = self.temp / "github_output"
        outputs.write_text("", encoding="utf-8")
        script = self.temp / "step.sh"
        script.write_text(spec["run"], encoding="utf-8")
        env = {**self.env, "GITHUB_OUTPUT": str(outputs), "RUNNER_TEMP": str(self.temp)}
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

    def job(self, row: dict[str, str] | None = None, **context: str) -> Runner:
        """A fresh runner for another job of the run (its own RUNNER_TEMP), with its matrix row."""
        assert self.artifacts is not None
        temp = Path(tempfile.mkdtemp(dir=self.artifacts.parent, prefix="job-"))
        matrix = {f"matrix.{key}": value for key, value in (row or {}).items()}
        if row is not None:
            matrix["matrix.target || 'default'"] = row["target"] or "default"
            matrix["matrix.region || vars.ECRGC_AWS_REGION"] = row["region"] or REGION
        shared = {k: v for k, v in self.context.items() if not k.startswith(("matrix.", "runner."))}
        return Runner(
            self.repo,
            temp,
            self.env,
            {**shared, **matrix, **context, "runner.temp": str(temp)},
            self.artifacts,
        )

    def upload(self, workflow: str, name: str, job: str) -> None:
        """actions/upload-artifact as the step's `with:` says: the directory's contents, under its name."""
        options = step(workflow, name, job)["with"]
        assert self.artifacts is not None
        source = Path(self.expand(options["path"]))
        if source.is_dir():
            shutil.copytree(source, self.artifacts / self.expand(options["name"]))

    def download(self, workflow: str, name: str, job: str) -> None:
        """actions/download-artifact: every artifact matching `pattern`, merged into `path`."""
        options = step(workflow, name, job)["with"]
        assert self.artifacts is not None
        assert options["merge-multiple"] is True
        target = Path(self.expand(options["path"]))
        target.mkdir(parents=True, exist_ok=True)
        for artifact in sorted(self.artifacts.iterdir()):
            if fnmatch.fnmatchcase(artifact.name, options["pattern"]):
                shutil.copytree(artifact, target, dirs_exist_ok=True)


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
class Loop:
    """A policy repository's GitOps loop: the runner of its workflows and the GitHub fake."""

    github: FakeGitHub
    runner: Runner


@dataclass
class World(Loop):
    sandbox: Sandbox
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
    return World(
        sandbox=sandbox,
        github=github,
        runner=runner(repo, tmp_path, sandbox.environ(), github),
        builds=builds,
    )


def runner(repo: Path, tmp: Path, aws: dict[str, str], github: FakeGitHub) -> Runner:
    """The run's runner: the environment every job shares (AWS `aws`, the GitHub fake), its artifacts."""
    temp = tmp / "runner"
    temp.mkdir()
    (tmp / "artifacts").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        **aws,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_SERVER_URL": "https://github.test",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_STEP_SUMMARY": str(temp / "step_summary.md"),
    }
    context = {
        "runner.temp": str(temp),
        "github.token": "actions-token",
        "github.event.pull_request.number": str(PR),
    }
    return Runner(repo, temp, env, context, tmp / "artifacts")


def matrix(runner: Runner, workflow: str) -> list[dict[str, str]]:
    """The job `targets`: the matrix rows, also given to the fan-in (`needs.targets.outputs.matrix`)."""
    code, outputs, log = runner.job().run(workflow, "List the targets")
    assert code == 0, log
    runner.context["needs.targets.outputs.matrix"] = outputs["matrix"]
    rows: list[dict[str, str]] = json.loads(outputs["matrix"])["include"]
    return rows


@dataclass
class Proposal:
    """What ecrgc-schedule's fan-in proposed: the plan files, the pull request's body, each job's log."""

    plans: list[str]
    body: str
    logs: dict[str, tuple[int, str]]


def schedule(world: Loop) -> Proposal:
    """ecrgc-schedule: plan every target, collect the plans, prune, render the pull request's body, and (by
    hand, as its last step does) commit on the plan branch."""
    run = world.runner
    logs: dict[str, tuple[int, str]] = {}
    for row in matrix(run, "ecrgc-schedule.yml"):
        job = run.job(row)
        code, _, log = job.run("ecrgc-schedule.yml", "Plan")
        logs[row["target"]] = (code, log)
        if code == 0:  # a failed step skips the rest of the job: no upload
            job.upload("ecrgc-schedule.yml", "Upload the plan", "plan")
    fan_in = run.job()
    fan_in.download("ecrgc-schedule.yml", "Download every target's plan", "propose")
    code, outputs, log = fan_in.run("ecrgc-schedule.yml", "Collect the plans and remove expired ones")
    assert code == 0, log
    logs["propose"] = (code, log)
    if "stamp" not in outputs:
        return Proposal(plans=[], body="", logs=logs)
    code, _, log = fan_in.run("ecrgc-schedule.yml", "Render the pull request's body")
    assert code == 0, log
    run.context["github.event.pull_request.base.sha"] = git(run.repo, "rev-parse", "HEAD")
    git(run.repo, "switch", "--quiet", "-C", "ecrgc/scheduled-plan")
    git(run.repo, "add", "-A", "plans/")
    git(run.repo, "commit", "--quiet", "-m", f"ecrgc: scheduled plans {outputs['stamp']}")
    added = git(run.repo, "diff", "--name-only", "--diff-filter=A", "HEAD~1", "HEAD").splitlines()
    body = (fan_in.temp / "ecrgc" / "body.md").read_text(encoding="utf-8")
    return Proposal(plans=added, body=body, logs=logs)


def check_pull_request(world: Loop) -> tuple[str, str]:
    """ecrgc-plan on the pull request: its outcome ('0' passed, '1' failed) and the sticky comment."""
    run = world.runner
    code, _, log = run.job().run("ecrgc-plan.yml", "Validate policies, targets and plans")
    assert code == 0, log
    for row in matrix(run, "ecrgc-plan.yml"):
        job = run.job(row)
        code, outputs, log = job.run("ecrgc-plan.yml", "Check each new or changed plan of the target")
        assert code == 0, log
        job.upload("ecrgc-plan.yml", "Upload the target's check", "check")
        name = "Fail when a plan of the target no longer passes its check"
        failing(job, name, "steps.check.outputs.failed == '1'", outputs["failed"])
    fan_in = run.job()
    fan_in.download("ecrgc-plan.yml", "Download every target's check", "plan")
    code, outputs, log = fan_in.run("ecrgc-plan.yml", "Gather every target's sections")
    assert code == 0, log
    fan_in.context["steps.gather.outputs.failed"] = outputs["failed"]
    for name in ("Post the sticky plan comment", "Write the full renderings to the job summary"):
        code, _, log = fan_in.run("ecrgc-plan.yml", name)
        assert code == 0, log
    failing(
        fan_in,
        "Fail when a plan no longer passes its check",
        "steps.gather.outputs.failed == '1'",
        outputs["failed"],
    )
    [comment] = world.github.state.bodies(REPO, PR)
    return outputs["failed"], comment


def failing(job: Runner, name: str, condition: str, failed: str) -> None:
    """A step that fails the job when `condition` (its `if:`, on the output `failed`) holds."""
    assert step("ecrgc-plan.yml", name)["if"] == condition
    if failed == "1":
        code, _, log = job.run("ecrgc-plan.yml", name)
        assert code == 1, log


def merge(world: Loop) -> str:
    repo = world.runner.repo
    git(repo, "switch", "--quiet", "main")
    git(repo, "merge", "--quiet", "--no-ff", "-m", f"Merge pull request #{PR}", "ecrgc/scheduled-plan")
    sha = git(repo, "rev-parse", "HEAD")
    world.github.state.commit_pulls[(REPO, sha)] = [{"number": PR, "merge_commit_sha": sha}]
    world.runner.env["GITHUB_SHA"] = sha
    return sha


def apply(world: Loop) -> tuple[str, str]:
    """ecrgc-apply: its outcome ('0' all applied) and the logs of every target's job."""
    run = world.runner
    shutil.rmtree(run.artifacts or "", ignore_errors=True)  # a new run: its own artifacts
    (run.artifacts or Path()).mkdir()
    failed, logs = "0", []
    for row in matrix(run, "ecrgc-apply.yml"):
        job = run.job(row)
        code, _, log = job.run("ecrgc-apply.yml", "List the unexpired plans, oldest first")
        assert code == 0, log
        code, outputs, log = job.run("ecrgc-apply.yml", "Apply every unexpired plan, oldest first")
        assert code == 0, log
        job.upload("ecrgc-apply.yml", "Upload the summary parts", "apply")
        failed = "1" if outputs["failed"] == "1" else failed
        logs.append(log)
    fan_in = run.job()
    fan_in.download("ecrgc-apply.yml", "Download every target's summary parts", "report")
    code, _, post_log = fan_in.run("ecrgc-apply.yml", "Post the apply summary on the merged pull request")
    assert code == 0, post_log
    return failed, "\n".join(logs)


def present(world: World) -> set[str]:
    return set(world.sandbox.registry.get("svc/api").images)


@pytest.mark.e2e
def test_the_reviewed_bytes_are_the_applied_bytes(world: World) -> None:
    proposal = schedule(world)
    [plan_path] = proposal.plans
    assert proposal.logs["propose"][1].strip() == "plans/20250101T000000Z.json"  # the expired plan, pruned
    assert not (world.runner.repo / "plans" / "20250101T000000Z.json").exists()
    assert proposal.body.startswith(f"<!-- ecrgc:schedule -->\n\n- `{plan_path}` (checked by ecrgc-plan")
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
    [plan_path] = schedule(world).plans
    # After the plan was made, build-6 is deployed: the committed plan still lists it.
    listed = world.runner.repo / "IMG_LIST" / "PRD_IMG_LIST.txt"
    listed.write_text(listed.read_text(encoding="utf-8") + f"{HOST}/svc/api:build-6\n", encoding="utf-8")
    git(world.runner.repo, "commit", "--quiet", "-am", "deploy build-6")

    failed, comment = check_pull_request(world)

    assert failed == "1"
    title = comment.split("\n\n---\n\n")[1].splitlines()[0]
    assert title.startswith(f"#### `{plan_path}` ❌ **fails its check**: {plan_path}: 1 planned image")
    assert "(in_use)" in title

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


@pytest.fixture
def targets_loop(
    moto: str,  # noqa: F811  # the imported fixture
    github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Loop]:
    """tests/aws/test_targets_moto.py's registries (three targets in two accounts and two regions, the other
    account reached through its roles; a fourth target whose role the planner may not assume), in a
    policy repository with targets.yaml; moto checks every call's credentials."""
    repo = tmp_path / "policies-repo"
    repo.mkdir()
    with registries(moto, repo, monkeypatch):
        git(repo, "init", "--quiet", "--initial-branch=main")
        git(repo, "config", "user.email", "dev@example.com")
        git(repo, "config", "user.name", "dev")
        git(repo, "add", "policies", "targets.yaml")
        git(repo, "commit", "--quiet", "-m", "policies and targets")
        yield Loop(github=github, runner=runner(repo, tmp_path, {}, github))


@pytest.mark.e2e
@pytest.mark.moto
def test_three_targets_one_pull_request_one_comment_three_applies_and_the_locked_one_fails_alone(
    targets_loop: Loop,
    moto: str,  # noqa: F811  # the imported fixture
) -> None:
    proposal = schedule(targets_loop)

    # The matrix: one job per target; the one whose role cannot be assumed fails alone.
    assert sorted(proposal.logs) == ["locked", "other-east", "own-east", "own-tokyo", "propose"]
    code, log = proposal.logs["locked"]
    assert code == 1
    assert f"ecrgc: target locked ({LOCKED}/{TOKYO}) failed: aws account {LOCKED}: cannot assume role" in log
    assert all(proposal.logs[t][0] == 0 for t in ("other-east", "own-east", "own-tokyo"))
    # The fan-in: every other target's plan in one commit, and the pull request's body says who has none.
    assert sorted(p.split("/")[1] for p in proposal.plans) == ["other-east", "own-east", "own-tokyo"]
    assert "- ❌ `locked` has no plan: its plan job failed" in proposal.body
    assert (
        proposal.body.count("(checked by ecrgc-plan on the pull request): **ecrgc: 3 images to delete") == 3
    )
    listed = [line.split("`")[1] for line in proposal.body.splitlines() if line.startswith("- `")]
    assert listed == ["own-east", "own-tokyo", "other-east"]  # the order of targets.yaml

    failed, comment = check_pull_request(targets_loop)

    assert failed == "0"
    head = "**Merging this pull request deletes 9 images**, each re-checked by ecrgc-apply right before"
    assert comment.startswith(f"<!-- ecrgc:plan -->\n{head}")
    checked = "✅ passes its check against the live registry and clusters"
    # Sections in the order of targets.yaml (the matrix's): every verdict first, then each section.
    by_target = {p.split("/")[1]: p for p in proposal.plans}
    in_order = [by_target[t] for t in ("own-east", "own-tokyo", "other-east")]
    titles = [f"`{p.split('/')[1]}` · `{p}` {checked}" for p in in_order]
    verdicts = [f"- {t}: **ecrgc: 3 images to delete" for t in titles]
    assert [line[: len(v)] for line, v in zip(comment.splitlines()[3:6], verdicts, strict=True)] == verdicts
    assert [s.splitlines()[0] for s in comment.split("\n\n---\n\n")[1:]] == [f"#### {t}" for t in titles]
    assert comment.count("<!-- ecrgc:") == 1

    merge(targets_loop)
    failed, log = apply(targets_loop)

    assert failed == "0", log
    plan_comment, apply_comment = targets_loop.github.state.bodies(REPO, PR)
    assert plan_comment == comment
    assert [line for line in apply_comment.splitlines() if line.startswith("#### ")] == [
        *(f"#### `{p}` (exit 0)" for p in in_order),
        "#### `locked`: No unexpired plan on main: nothing was applied",
    ]
    _moto_api(moto, "reset-auth", b"inf")
    ecrs = {
        "own-east": boto3.client("ecr", region_name=EAST),
        "own-tokyo": boto3.client("ecr", region_name=TOKYO),
        "other-east": _session(OTHER).client("ecr", region_name=EAST),
    }
    for name, ecr in ecrs.items():
        assert len(_images(ecr)) == 2, name  # keepLatest 2 of 5: each target's three planned were deleted
        report = targets_loop.runner.repo / "reports" / name
        assert [r.suffix for r in report.iterdir()] == [".jsonl"]


@pytest.mark.e2e
@pytest.mark.moto
def test_a_pull_request_of_policies_only_shows_each_target_s_what_if_and_the_locked_one_fails_the_check(
    targets_loop: Loop,
) -> None:
    run = targets_loop.runner
    run.context["github.event.pull_request.base.sha"] = git(run.repo, "rev-parse", "HEAD")

    failed, comment = check_pull_request(targets_loop)

    assert failed == "1"
    lines = comment.splitlines()
    assert lines[1] == "**Merging this pull request deletes no image**: it adds or changes no plan file."
    assert lines[2].startswith(f"- ❌ `locked` cannot be planned: target locked ({LOCKED}/{TOKYO}) failed:")
    what_if = "What-if: no plan file in this pull request; the policies would plan this now"
    titles = [f"`{t}` · {what_if}" for t in ("own-east", "own-tokyo", "other-east")]
    assert [s.splitlines()[0] for s in comment.split("\n\n---\n\n")[1:]] == [f"#### {t}" for t in titles]
    assert comment.count(f"{what_if}: **ecrgc: 3 images to delete") == 3


@pytest.mark.e2e
def test_a_compressed_plan_is_checked_and_applied_like_a_plain_one(world: World) -> None:
    [plain] = schedule(world).plans
    repo = world.runner.repo
    plan = load_plan_file(repo / plain)
    # What `plan --out X.json.gz` writes, committed in the scheduled plan's stead.
    compressed = f"{plain}.gz"
    sha256 = write_plan_file(plan, repo / compressed)
    assert (repo / compressed).read_bytes()[:2] == b"\x1f\x8b"  # gzip
    (repo / plain).unlink()
    git(repo, "add", "-A", "plans/")
    git(repo, "commit", "--quiet", "-m", "compressed")

    failed, comment = check_pull_request(world)

    assert failed == "0"
    assert f"\n\n---\n\n#### `{compressed}` ✅ passes its check" in comment
    assert "**Merging this pull request deletes 5 images**" in comment
    merge(world)
    failed, _ = apply(world)

    assert failed == "0"
    assert present(world) == {world.builds[i] for i in (0, 1, 4)}
    report = load_report_file(repo / "reports" / f"{Path(plain).stem}.jsonl")
    assert report.plan_sha256 == sha256  # the compressed file's own hash: the bytes reviewed were applied
