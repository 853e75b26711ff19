"""The pull-request comments exactly as the workflows post them, as golden files (ECRGC_UPDATE_GOLDEN=1).

Each case runs the workflow's own commands: a title line plus `ecrgc show FILE --format markdown` into a part
file, then `ecrgc github comment --body-file PART` against the GitHub fake; the posted body is the golden.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import as_file, files
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecrgc.apply.report import ApplyReport, dumps_report
from ecrgc.aws import Registry
from ecrgc.cli import app
from ecrgc.commands import demo
from ecrgc.commands import plan as plan_command
from ecrgc.commands.github import COMMENT_LIMIT
from ecrgc.model import Outcome, OutcomeReason, OutcomeStatus, Reason
from ecrgc.planfile import write_plan_file
from ecrgc.policy import load_policies
from ecrgc.sandbox import Sandbox, seed
from ecrgc.usage import collector
from tests.github_fake import FakeGitHub, GitHubState, serve
from tests.golden_files import assert_golden
from tests.test_planfile import big_plan, empty_plan, small_plan

GOLDEN = Path(__file__).parent / "golden"
REPO = "acme/policies"
CHECKED = "✅ passes its check against the live registry and clusters"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    yield from serve(GitHubState(users={"t": "github-actions[bot]"}))


def ecrgc(*args: str, env: dict[str, str] | None = None) -> str:
    with tempfile.TemporaryDirectory() as logs:
        result = CliRunner().invoke(app, ["--log-dir", logs, *args], env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def post(github: FakeGitHub, tmp: Path, title: str, rendered: Path, marker: str, *options: str) -> str:
    """As the workflow does: `{ echo TITLE; ecrgc show FILE --format markdown; } > PART`, then comment."""
    part = tmp / "part-1.md"
    shown = ecrgc("show", str(rendered), "--format", "markdown", *options)
    part.write_text(title + "\n" + shown, encoding="utf-8")
    env = {"GITHUB_TOKEN": "t", "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO}
    ecrgc("github", "comment", "--pr", "5", "--marker", marker, "--body-file", str(part), env=env)
    [body] = github.state.bodies(REPO, 5)
    assert len(body) <= COMMENT_LIMIT
    assert body.startswith(f"<!-- {marker} -->\n{title}\n\n**")  # the verdict right under the title
    assert body.count("<!-- ecrgc:") == 1
    return body


@pytest.mark.parametrize(
    ("case", "make"),
    # 5,000 images already need ~10x the room a comment has (and loading 50,000 takes a minute here).
    [("empty", empty_plan), ("small", small_plan), ("huge", lambda: big_plan(5_000, 400))],
)
def test_plan_comment(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, make: object
) -> None:
    assert callable(make)
    monkeypatch.chdir(tmp_path)  # no policies/ here: the comment shows the hashes without comparing them
    plan_path = tmp_path / "plans" / f"{case}.json"
    write_plan_file(make(), plan_path)

    body = post(github, tmp_path, f"#### `plans/{case}.json` {CHECKED}", plan_path, "ecrgc:plan")

    assert_golden(GOLDEN / f"comment-plan-{case}.md", body)
    assert ("Shortened" in body) == (case == "huge")  # a cut comment says what it left out


def test_apply_report_comment(github: FakeGitHub, tmp_path: Path) -> None:
    started = datetime(2026, 1, 16, 9, 0, tzinfo=UTC)
    digests = [f"sha256:{n:064x}" for n in range(1, 6)]
    report = ApplyReport(
        plan_sha256="caf7e1d60068" + "0" * 52,
        started_at=started,
        finished_at=started + timedelta(seconds=42),
        dry_run=False,
        outcomes=(
            Outcome(repository="payments/api", digest=digests[0], status=OutcomeStatus.DELETED),
            Outcome(repository="payments/api", digest=digests[1], status=OutcomeStatus.ALREADY_ABSENT),
            Outcome(
                repository="payments/api",
                digest=digests[2],
                status=OutcomeStatus.SKIPPED,
                reason=OutcomeReason.KEPT,
                kept_by=Reason.IN_USE,
                detail="prd · payments · Deployment/api",
            ),
            Outcome(
                repository="web/frontend",
                digest=digests[3],
                status=OutcomeStatus.FAILED,
                reason=OutcomeReason.REGISTRY_ERROR,
                code="KmsError",
                detail="kms key disabled",
            ),
            Outcome(repository="web/frontend", digest=digests[4], status=OutcomeStatus.ARCHIVED),
            Outcome(repository="tools/legacy-cron", digest="", status=OutcomeStatus.DELETED),
        ),
    )
    path = tmp_path / "reports" / "20260115T120000Z.jsonl"
    path.parent.mkdir()
    path.write_text(dumps_report(report), encoding="utf-8")

    body = post(github, tmp_path, "#### `plans/20260115T120000Z.json` (exit 2)", path, "ecrgc:apply")

    assert_golden(GOLDEN / "comment-apply-report.md", body)


def test_the_demo_plan_comment(github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`ecrgc demo`'s registry, policy and image list, planned at a fixed moment: the comment a first-time
    user sees when the demo's plan goes into a pull request."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with (
        Sandbox(account=demo.ACCOUNT, region=demo.REGION) as sandbox,
        as_file(files("ecrgc.sandbox")) as data,
    ):
        sandbox.clock.set(now)
        seed.load(sandbox.registry, Path(data) / "demo.yaml")
        for name, value in sandbox.environ().items():
            monkeypatch.setenv(name, value)
        for name in ("demo-policy.yaml", "demo-images.txt"):
            shutil.copyfile(Path(data) / name, tmp_path / name)
        made = plan_command.run_plan(
            load_policies([tmp_path / "demo-policy.yaml"]),
            inventory=Registry(demo.REGION),
            usage=collector(base=tmp_path),
            now=now,
        )
    plan_path = tmp_path / "plans" / "demo.json"
    write_plan_file(made, plan_path)

    policies = ("--policies", str(tmp_path / "demo-policy.yaml"))  # compared: the repository's policy
    body = post(github, tmp_path, f"#### `plans/demo.json` {CHECKED}", plan_path, "ecrgc:plan", *policies)

    assert_golden(GOLDEN / "comment-plan-demo.md", body)
    assert "Shortened" not in body
