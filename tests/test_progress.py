"""Progress on stderr: rich on a terminal, a plain line every few seconds into logs; `ecrgc plan` shows it."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecrgc.cli.console import FILE_WIDTH, text_width
from ecrgc.cli.progress import ProgressDisplay
from ecrgc.sandbox import Sandbox
from tests.apply.world import build_world, write_policy
from tests.terminal import run_in_terminal

ECRGC = Path(sys.executable).parent / "ecrgc"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_is_one_line_every_interval_and_one_when_a_step_ends() -> None:
    """Lines at 5 s, 10 s, 15 s and the end of the scan; reading's one line when it is over."""
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, terminal=False, interval=5, clock=clock)
    with display:
        display.update("reading what is in use")
        display.end("reading what is in use")
        display.update("scanning", 0, 100, unit="repositories", note="0 images")
        for done in range(1, 101):
            clock.now = done * 0.2  # 5 repositories a second
            display.update("scanning", done, 100, unit="repositories", note=f"{done * 10:,} images")
    assert stream.getvalue().splitlines() == [
        "ecrgc: reading what is in use",
        "ecrgc: scanning: 25/100 repositories, 5.0 repositories/s, about 15 seconds left, 250 images",
        "ecrgc: scanning: 50/100 repositories, 5.0 repositories/s, about 10 seconds left, 500 images",
        "ecrgc: scanning: 75/100 repositories, 5.0 repositories/s, about 5 seconds left, 750 images",
        "ecrgc: scanning: 100/100 repositories, 5.0 repositories/s, 1,000 images",
    ]


def test_steps_run_at_once_each_with_its_own_lines() -> None:
    stream, clock = io.StringIO(), Clock()
    with ProgressDisplay(stream, terminal=False, interval=5, clock=clock) as display:
        display.update("verifying", 0, 2, unit="repositories")
        display.update("deleting", 0, 10, unit="images")
        clock.now = 1.0
        display.update("verifying", 1, 2, unit="repositories")
        display.update("deleting", 4, 10, unit="images")
        clock.now = 2.0
        display.update("verifying", 2, 2, unit="repositories")
    assert stream.getvalue().splitlines() == [
        "ecrgc: verifying: 2/2 repositories, 1.0 repositories/s",
        "ecrgc: deleting: 4/10 images, 4.0 images/s, about 2 seconds left",
    ]


def test_a_failed_step_leaves_no_line_for_the_error_to_be_alone() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, terminal=False)
    display.update("reading what is in use")
    display.__exit__(RuntimeError, RuntimeError("the list is missing"), None)
    assert stream.getvalue() == ""


def test_a_long_wait_is_said_in_minutes() -> None:
    stream, clock = io.StringIO(), Clock()
    display = ProgressDisplay(stream, terminal=False, clock=clock)
    display.update("deleting", 0, 1000, unit="images")
    clock.now = 60.0
    display.update("deleting", 100, 1000, unit="images")
    assert stream.getvalue().splitlines()[-1] == (
        "ecrgc: deleting: 100/1,000 images, 1.7 images/s, about 9m00s left"
    )


def test_terminal_progress_draws_rich_bars_with_counts() -> None:
    stream = io.StringIO()
    with ProgressDisplay(stream, terminal=True) as display:
        display.update("scanning", 3, 4, unit="repositories", note="30 images")
        display.update("writing the plan file")
    shown = stream.getvalue()
    assert "\x1b[" in shown
    for part in ("scanning", "4/4", "repositories", "30 images", "writing the plan file"):
        assert part in shown


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_fits_the_terminal_and_files_get_the_fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "213")
    assert text_width(Terminal()) == 213
    assert text_width(io.StringIO()) == FILE_WIDTH
    monkeypatch.setenv("COLUMNS", "20")
    assert text_width(Terminal()) == 60


@pytest.mark.e2e
def test_the_installed_plan_shows_its_progress_on_a_terminal_and_plain_lines_in_a_pipe(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    build_world(sandbox, tmp_path)
    (tmp_path / "policies").mkdir()
    write_policy(tmp_path / "policies", image_list="../in-use.txt")
    env = {**os.environ, "LOGDIR": str(tmp_path / "logs")}
    env.pop("NO_COLOR", None)
    argv = [ECRGC, "plan", "policies", "--out", "p.json"]

    code, shown = run_in_terminal(argv, cwd=tmp_path, env=env, columns=150)
    piped = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)

    assert code == 0, shown
    assert "\x1b[" in shown
    steps = ("reading what is in use", "scanning and deciding", "assembling the plan", "writing the plan")
    for step in steps:
        assert step in shown
    assert "2/2 repositories" in ANSI.sub("", shown)
    assert piped.returncode == 0, piped.stderr
    assert not CONTROL.search(piped.stdout + piped.stderr)
    assert "ecrgc: scanning and deciding: 2/2 repositories" in piped.stderr
    assert "ecrgc: writing the plan file, p.json" in piped.stderr
