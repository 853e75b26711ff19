"""`ecrgc apply` on the command line: confirmation, report files, human summary, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecrgc.apply.report import load_report_file
from ecrgc.cli import app
from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox
from tests.apply.world import build_world, images, in_use, make_plan, write_policy
from tests.terminal import run_in_terminal

ECRGC = Path(sys.executable).parent / "ecrgc"


@pytest.fixture
def plan(ecr: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The World's plan, with the working directory where its image list is (apply reads it from there)
    and its policy in policies/ (the policy set apply checks the plan against by default)."""
    build_world(ecr, tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policies").mkdir()
    return make_plan(tmp_path, write_policy(tmp_path / "policies", image_list="../in-use.txt"))


def test_apply_writes_the_report_and_prints_the_summary(ecr: Sandbox, plan: Path, tmp_path: Path) -> None:
    before = images(ecr)

    result = CliRunner().invoke(app, ["apply", str(plan), "--auto-approve", "--report", "out/report.jsonl"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ecrgc apply: 7 deleted\n")
    report = load_report_file(tmp_path / "out" / "report.jsonl")
    assert {(o.repository, o.digest) for o in report.outcomes} == before - images(ecr)
    logged = sorted(Path(os.environ["LOGDIR"]).glob("apply-*.jsonl"))
    assert [p.read_text() for p in logged] == [(tmp_path / "out" / "report.jsonl").read_text()]


def test_apply_without_a_terminal_refuses_unless_approved(ecr: Sandbox, plan: Path) -> None:
    before = images(ecr)

    result = CliRunner().invoke(app, ["apply", str(plan)])

    assert result.exit_code == 3
    assert result.stderr == (
        f"ecrgc: {plan}: no terminal to confirm on: pass --auto-approve to apply without asking\n"
    )
    assert images(ecr) == before


def test_dry_run_needs_no_approval_and_deletes_nothing(ecr: Sandbox, plan: Path) -> None:
    before = images(ecr)

    result = CliRunner().invoke(app, ["apply", str(plan), "--dry-run"])

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ecrgc apply (dry run): 7 would be applied\n")
    assert images(ecr) == before


def test_skipped_images_exit_2_and_abort_exits_3(ecr: Sandbox, plan: Path, tmp_path: Path) -> None:
    in_use(tmp_path, "app/api:v1", "app/api:v0")

    aborted = CliRunner().invoke(app, ["apply", str(plan), "--auto-approve", "--on-drift", "abort"])
    skipped = CliRunner().invoke(app, ["apply", str(plan), "--auto-approve"])

    assert aborted.exit_code == 3
    assert "7 skipped" in aborted.stdout.splitlines()[0]
    assert skipped.exit_code == 2
    assert skipped.stdout.splitlines()[0] == "ecrgc apply: 6 deleted · 1 skipped"
    assert "skipped app/api" in skipped.stdout
    assert "kept (in_use): in use by in-use.txt:3" in skipped.stdout


def test_a_tampered_plan_exits_3_and_deletes_nothing(ecr: Sandbox, plan: Path) -> None:
    document = json.loads(plan.read_text())
    document["actions"][0]["imageDigest"] = "sha256:" + "0" * 64
    plan.write_text(json.dumps(document, indent=2))
    before = images(ecr)

    result = CliRunner().invoke(app, ["apply", str(plan), "--auto-approve"])

    assert result.exit_code == 3
    assert "content hash mismatch" in result.stderr
    assert images(ecr) == before


@pytest.mark.e2e
def test_the_installed_ecrgc_applies_a_plan_against_the_sandbox(
    ecr: Sandbox, plan: Path, tmp_path: Path
) -> None:
    planned = {(a.repository, a.digest) for a in load_plan_file(plan).actions}
    before = images(ecr)

    run = subprocess.run(
        [ECRGC, "apply", str(plan), "--auto-approve", "--report", "r.jsonl"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"ecrgc apply: {len(planned)} deleted\n")
    assert images(ecr) == before - planned
    assert {(o.repository, o.digest) for o in load_report_file(tmp_path / "r.jsonl").outcomes} == planned


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.mark.e2e
@pytest.mark.parametrize("answer", ["y", "YES", ""])
def test_on_a_terminal_only_the_word_yes_applies(
    ecr: Sandbox, plan: Path, tmp_path: Path, answer: str
) -> None:
    before = images(ecr)

    code, shown = run_in_terminal(
        [ECRGC, "apply", str(plan)], cwd=tmp_path, env=dict(os.environ), prompt="Enter a value", answer=answer
    )

    assert code == 3, shown
    assert "not confirmed (only 'yes' approves); nothing was applied" in shown
    assert images(ecr) == before


@pytest.mark.e2e
def test_on_a_terminal_apply_shows_the_plan_asks_for_yes_and_shows_its_progress(
    ecr: Sandbox, plan: Path, tmp_path: Path
) -> None:
    planned = {(a.repository, a.digest) for a in load_plan_file(plan).actions}
    before = images(ecr)

    code, shown = run_in_terminal(
        [ECRGC, "apply", str(plan)], cwd=tmp_path, env=dict(os.environ), prompt="Enter a value", answer="yes"
    )

    text = ANSI.sub("", shown)
    asked = text.index("Enter a value")
    shown_first = text[:asked]
    for part in ("ecrgc: 7 images to delete", "repository", "app/web", "warning: ", "account 123456789012"):
        assert part in shown_first
    assert f"Plan file {plan}: 7 to delete in account 123456789012, region ap-northeast-1" in shown_first
    assert "Only 'yes' will be accepted to approve." in shown_first
    assert code == 0, shown
    assert "\x1b[" in shown[shown.index("Enter a value") :]  # the progress display, drawn in place
    assert "verifying" in text[asked:]
    assert "2/2 repositories" in text[asked:]
    assert "applying" in text[asked:]
    assert "7/7 images and repositories" in text[asked:]
    assert "ecrgc apply: 7 deleted" in text[asked:]
    assert images(ecr) == before - planned


@pytest.mark.e2e
def test_through_a_pipe_apply_writes_plain_lines_without_control_characters(
    ecr: Sandbox, plan: Path, tmp_path: Path
) -> None:
    run = subprocess.run(
        [ECRGC, "apply", str(plan), "--auto-approve"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stderr
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", run.stdout + run.stderr)
    assert "ecrgc: verifying: 2/2 repositories" in run.stderr
    assert "ecrgc: applying: 7/7 images and repositories" in run.stderr
