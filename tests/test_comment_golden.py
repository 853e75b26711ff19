"""The pull-request comments exactly as the workflows post them, as golden files (ECRGC_UPDATE_GOLDEN=1).

Each case runs the workflow's own commands: a title line plus `ecrgc show FILE --format markdown` into a part
file, then `ecrgc github comment --body-file PART` against the GitHub fake; the posted body is the golden.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.resources import as_file, files
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ecrgc.apply.report import ApplyReport, dumps_report
from ecrgc.aws import Registry
from ecrgc.cli import app
from ecrgc.commands import demo
from ecrgc.commands import plan as plan_command
from ecrgc.commands.github import COMMENT_LIMIT
from ecrgc.model import Outcome, OutcomeReason, OutcomeStatus, Plan, Reason
from ecrgc.planfile import write_plan_file
from ecrgc.policy import load_policies
from ecrgc.render import facts
from ecrgc.render.sections_markdown import Section, sections_markdown
from ecrgc.sandbox import Sandbox, seed
from ecrgc.usage import collector
from tests.github_fake import FakeGitHub, GitHubState, serve
from tests.golden_files import assert_golden
from tests.test_planfile import big_plan, empty_plan, plans, small_plan

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
        monkeypatch.chdir(tmp_path)  # the list is named from the working directory, as in a repository
        made = plan_command.run_plan(
            load_policies([tmp_path / "demo-policy.yaml"]),
            inventory=Registry(demo.REGION),
            usage=collector(),
            now=now,
        )
    plan_path = tmp_path / "plans" / "demo.json"
    write_plan_file(made, plan_path)

    policies = ("--policies", str(tmp_path / "demo-policy.yaml"))  # compared: the repository's policy
    body = post(github, tmp_path, f"#### `plans/demo.json` {CHECKED}", plan_path, "ecrgc:plan", *policies)

    assert_golden(GOLDEN / "comment-plan-demo.md", body)
    assert "Shortened" not in body


def _target_plans(tmp: Path) -> list[Path]:
    """Three targets' plans in three registries: a small one, one with nothing to delete, and one whose
    per-image lists alone are several times a comment."""
    made = {
        "plans/team-tokyo/20260115T120000Z.json": replace(small_plan(), account="111111111111"),
        "plans/team-virginia/20260115T120000Z.json": replace(empty_plan(), region="us-east-1"),
        "plans/tools/20260115T120000Z.json": replace(big_plan(900, 12), account="222222222222"),
    }
    for name, plan in made.items():
        write_plan_file(plan, tmp / name)
    return list(made)


def test_one_comment_of_three_targets_shrinks_across_sections(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the fan-in job posts it: `ecrgc github comment PLAN... --title ...` with the head line part."""
    monkeypatch.chdir(tmp_path)
    plans = _target_plans(tmp_path)
    (tmp_path / "head.md").write_text("**Merging this pull request deletes 908 images**.\n", encoding="utf-8")
    titles = [f"`{p.split('/')[1]}` · `{p}` {CHECKED}" for p in plans]
    env = {"GITHUB_TOKEN": "t", "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO}
    args = [*plans, "--pr", "5", "--body-file", "head.md", *(a for t in titles for a in ("--title", t))]

    ecrgc("github", "comment", *args, env=env)

    [body] = github.state.bodies(REPO, 5)
    assert_golden(GOLDEN / "comment-targets.md", body)
    assert len(body) <= 60_000
    lines = body.splitlines()
    assert lines[:2] == ["<!-- ecrgc:plan -->", "**Merging this pull request deletes 908 images**."]
    # Every target's verdict first, then a section per target, in the order given.
    assert [line.split(":")[0] for line in lines[3:6]] == [f"- {t}" for t in titles]
    starts = [body.index(f"\n#### {t}\n") for t in titles]
    assert starts == sorted(starts)
    sections = body.split("\n---\n")[1:]
    # Only the big plan's lists were left out (largest first); the small plan keeps every list, and the
    # in-use tables stay.
    assert ["Shortened" in s for s in sections] == [False, False, True]
    assert "<details><summary>payments/api: 5 to delete</summary>" in sections[0]
    assert all(" in use, protected</summary>" in s for s in sections[:2])
    assert body.count("<!-- ecrgc:") == 1
    # The job summary gets the full rendering: every list of every section.
    summary = tmp_path / "summary.md"
    summary_args = [*plans, *(a for t in titles for a in ("--title", t)), "--summary-file", str(summary)]
    ecrgc("github", "summary", *summary_args)
    full = summary.read_text(encoding="utf-8")
    assert "Shortened" not in full
    assert full.count("<details><summary>team-") == 12


def test_the_verdicts_of_every_target_survive_any_shrinking(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty targets with big plans: the comment falls to counts, totals or verdicts, never over budget,
    and every verdict line stays."""
    monkeypatch.chdir(tmp_path)
    plans = []
    for n in range(30):
        name = f"plans/t{n:02d}/20260115T120000Z.json"
        write_plan_file(replace(big_plan(300, 40, seed=n), account=f"{n + 1:012d}"), tmp_path / name)
        plans.append(name)
    body = ecrgc("github", "comment", *plans, "--dry-run")
    assert len(body) <= 60_000
    assert body.count("\n- `plans/t") == 30
    assert body.count("\n#### `plans/t") == 30
    assert all("> Shortened: " in section for section in body.split("\n---\n")[1:])
    assert github.state.requests == []  # --dry-run posts nothing


@pytest.mark.parametrize(
    ("titles", "message"),
    [
        (["one"], "ecrgc: --title: 1 given for 2 plans: give one per plan, in their order, or none\n"),
        (["one", "two\nlines"], "ecrgc: --title: 'two\\nlines' must be one non-empty line of Markdown\n"),
    ],
)
def test_section_titles_are_one_line_each_one_per_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, titles: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    plans = _target_plans(tmp_path)[:2]
    args = [*plans, "--dry-run", *(a for t in titles for a in ("--title", t))]
    with tempfile.TemporaryDirectory() as logs:
        result = CliRunner().invoke(app, ["--log-dir", logs, "github", "comment", *args])
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message)


@given(st.lists(plans(), min_size=1, max_size=4), st.integers(3_000, 20_000))
@settings(max_examples=60, deadline=None)
def test_no_comment_of_several_plans_exceeds_its_limit_or_loses_a_verdict(
    several: list[Plan], limit: int
) -> None:
    """Whatever the plans and the budget (when the verdicts fit at all): within it, every plan's verdict
    in the opening list and under its section's title, and an in-use table in every section whose plan has
    one until the sections fall to their verdicts."""
    sections = [Section(title=f"`t{n}`", plan=p) for n, p in enumerate(several)]
    try:
        body = sections_markdown(sections, head=["<!-- ecrgc:plan -->"], limit=limit)
    except ValueError:
        return  # not even the verdicts fit: the CLI says so in one line
    assert len(body) <= limit
    parts = body.split("\n\n---\n\n")
    verdicts = [f"**{facts.verdict(facts.totals(facts.rows(p)))}**" for p in several]
    assert parts[0].splitlines()[2:] == [f"- `t{n}`: {v}" for n, v in enumerate(verdicts)]
    for n, (part, plan) in enumerate(zip(parts[1:], several, strict=True)):
        assert part.splitlines()[:3] == [f"#### `t{n}`", "", verdicts[n]]
        level_verdict = "the warnings, the tables and the lists are left out" in part
        assert (" in use, protected</summary>" in part) == bool(plan.protected and not level_verdict)
