"""Benchmark: the whole `ecrgc plan` (scan + decide + plan file) against a large registry (issue 4, item 7).

The installed `ecrgc plan` runs as a subprocess against the sandbox process of `bench_plan_scan` (10 ms per
call), so wall, CPU and peak RSS are the CLI's own (from wait4). Baseline, measured in the same run and
the same way: a bare inventory scan of every repository (`bench_plan_scan.scan_everything`), so the ratio
says what deciding, summarising and writing the plan add on top of reading the registry.

    ECRGC_BENCH_SCALE=small|full (default full: 2,000 repositories, 1,000,000 images, 5 % indexes/signed)
    ECRGC_BENCH_REPEAT=N         runs (default 3); medians are reported
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tests.bench.bench_plan_scan import SCALES, sandbox_process, scan_everything

POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: bench}
spec:
  region: us-east-1
  repositories: {include: ['.']}
  rules: {holdTags: ['^release-', '^v1\\.'], keepLatest: 5, olderThan: 30d, notPulledFor: 60d}
"""


def run() -> dict[str, object]:
    """Measure and report; never asserts a time."""
    name = os.environ.get("ECRGC_BENCH_SCALE", "full")
    scale, repeat = SCALES[name], int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    ecrgc = shutil.which("ecrgc", path=str(Path(sys.executable).parent)) or "ecrgc"
    plans, scans = [], []
    with sandbox_process(scale) as sandbox, tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        region = sandbox.environ["AWS_DEFAULT_REGION"]
        (work / "policy.yaml").write_text(POLICY.replace("us-east-1", region))
        for _ in range(repeat):
            sandbox.ask("reset")
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                scans.append(pool.submit(scan_everything, sandbox.environ, 8, "adaptive").result())
            sandbox.ask("reset")
            figures = _plan_once(ecrgc, work, sandbox.environ)
            figures["calls"] = sandbox.ask("calls")
            print(f"bench_plan: {figures}", file=sys.stderr, flush=True)
            plans.append(figures)
        registry = sandbox.ask("stats")
    minimum = scans[-1]["minimum"]
    plan_wall = statistics.median(p["wall_s"] for p in plans)
    scan_wall = statistics.median(s["wall_s"] for s in scans)
    return {
        "scale": name,
        "repeat": repeat,
        "registry": registry,
        "plan": {
            "wall_s": plan_wall,
            "cpu_s": statistics.median(p["cpu_s"] for p in plans),
            "peak_rss_mib": statistics.median(p["peak_rss_mib"] for p in plans),
            "wall_s_each": [p["wall_s"] for p in plans],
            "plan_file_mib": plans[-1]["plan_file_mib"],
            "actions": plans[-1]["actions"],
            "calls": plans[-1]["calls"],
        },
        "baseline_scan": {"wall_s": scan_wall, "cpu_s": statistics.median(s["cpu_s"] for s in scans)},
        "plan_over_scan_wall": round(plan_wall / scan_wall, 2),
        "minimum_calls": minimum,
        "describe_images_at_minimum": all(
            p["calls"].get("DescribeImages") == minimum["DescribeImages"] for p in plans
        ),
        "per_image_calls": sorted({op for p in plans for op in p["calls"]} - {*minimum, "GetCallerIdentity"}),
    }


def _plan_once(ecrgc: str, work: Path, environ: dict[str, str]) -> dict[str, Any]:
    env = {**os.environ, **environ, "LOGDIR": str(work / "logs")}
    start = time.perf_counter()
    # Output goes to files: a pipe nobody reads while waiting would block the CLI once it fills.
    with (work / "out.json").open("wb") as out, (work / "err.txt").open("wb") as err:
        process = subprocess.Popen(
            [ecrgc, "plan", "policy.yaml", "--out", "plan.json", "--format", "json"],
            cwd=work,
            env=env,
            stdout=out,
            stderr=err,
        )
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"ecrgc plan failed: {(work / 'err.txt').read_text()[-2000:]}")
    summary = json.loads((work / "out.json").read_text())
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        "plan_file_mib": round((work / "plan.json").stat().st_size / 2**20, 1),
        "actions": summary["totals"]["images_to_delete"],
    }
