"""Benchmark: the plan file of 1,000,000 deletions (a registry of 2,000 repositories) and its views.

The plan is built in memory once (not timed; `tests.test_planfile.big_plan`: 2,000 repositories, every tenth
action an index with two children, and one kept image recorded for every two deletions). Then:
- the bytes of the plan file per deletion, as `.json` (records, one line per image) and `.json.gz`
  (columns, gzip), and the seconds to write each;
- for the largest plan (the `.json.gz`, and the `.json`): `ecrgc validate`, `ecrgc show` and apply's load
  (`load_plan_file`, what `ecrgc apply` does before anything else), each in a fresh process: wall and CPU
  seconds and peak RSS (MiB, the child's own VmHWM);
- in this process, the views `plan_json` and `plan_text` of the loaded `.json.gz` plan (`plan_markdown` is
  left out: its search for the richest comment that fits is quadratic in the repositories, minutes at 2,000).
Each step runs REPEAT times and the report gives medians.

    ECRGC_BENCH_SCALE=small|full (default full: 1,000,000 deletions; small: 10,000)
    ECRGC_BENCH_KEPT=P           kept images recorded, in percent of the deletions (default 50)
    ECRGC_BENCH_REPEAT=N         runs per step (default 3); medians are reported
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from ecrgc import planfile, render
from tests.test_planfile import big_plan

# What runs in the fresh process of each step: the CLI of validate and show, and apply's first step. The
# child reports its own peak (VmHWM: ru_maxrss would count the parent's pages, copied at the fork).
_PEAK = (
    "import atexit, runpy, sys\n"
    "PEAK = sys.argv[1]\n"
    "def peak():\n"
    "    with open('/proc/self/status') as status, open(PEAK, 'w') as out:\n"
    "        out.write(next(line.split()[1] for line in status if line.startswith('VmHWM:')))\n"
    "atexit.register(peak)\n"
)
_CLI = "sys.argv = ['ecrgc', '{verb}', sys.argv[2]]; runpy.run_module('ecrgc', run_name='__main__')"
_STEPS = {
    "validate": _PEAK + _CLI.format(verb="validate"),
    "show": _PEAK + _CLI.format(verb="show"),
    "apply_load": _PEAK + "from ecrgc.planfile import load_plan_file; load_plan_file(sys.argv[2])",
}


def run() -> dict[str, object]:
    """Build the plan, write both files, time each step REPEAT times, report medians."""
    deletions = 10_000 if os.environ.get("ECRGC_BENCH_SCALE") == "small" else 1_000_000
    repeat = int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    start = time.perf_counter()
    kept = deletions * int(os.environ.get("ECRGC_BENCH_KEPT", "50")) // 100
    plan = big_plan(deletions, 2_000, keeps=kept)
    built = time.perf_counter() - start
    report: dict[str, object] = {
        "deletions": len(plan.actions),
        "kept_recorded": len(plan.kept),
        "repositories": len(plan.summary),
        "build_seconds": round(built, 1),
    }
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("plan.json.gz", "plan.json"):
            path = Path(scratch) / name
            report[f"write_seconds[{name}]"] = _median(partial(planfile.write_plan_file, plan, path), repeat)
            size = path.stat().st_size
            report[f"bytes[{name}]"] = size
            report[f"bytes_per_deletion[{name}]"] = round(size / len(plan.actions), 1)
            for step, code in _STEPS.items():
                runs = [_fresh_process(code, path) for _ in range(repeat)]
                report[f"{step}[{name}]"] = {
                    "wall_seconds": round(statistics.median(r[0] for r in runs), 2),
                    "cpu_seconds": round(statistics.median(r[1] for r in runs), 2),
                    "peak_rss_mib": round(statistics.median(r[2] for r in runs)),
                }
        loaded = planfile.load_plan_file(Path(scratch) / "plan.json.gz")
    views: dict[str, Callable[[], object]] = {
        "plan_json": lambda: render.plan_json(loaded),
        "plan_text": lambda: render.plan_text(loaded),
    }
    report["median_seconds"] = {name: _median(view, repeat) for name, view in views.items()}
    return report


def _fresh_process(code: str, path: Path) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MiB) of `python -c code PEAKFILE path` in a new process."""
    with tempfile.TemporaryFile() as errors, tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", code, peak.name, str(path)], stdout=subprocess.DEVNULL, stderr=errors
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status):
            errors.seek(0)
            raise RuntimeError(f"{path}: exit status {status}: {errors.read().decode()[-2000:]}")
        return wall, usage.ru_utime + usage.ru_stime, int(peak.read()) / 1024  # VmHWM is in kB


def _median(step: Callable[[], object], repeat: int) -> float:
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        walls.append(time.perf_counter() - start)
    return round(statistics.median(walls), 3)
