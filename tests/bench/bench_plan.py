"""Benchmark: the whole `ecrgc plan` (scan + decide + plan file) against large registries (issues 4 and 14).

Each registry of the scale (`CASES`) is seeded in a sandbox process (`bench_plan_scan`: 10 ms per call, 5 %
indexes, 5 % signatures), and the installed `ecrgc plan` runs against it as a subprocess, so wall, CPU and
peak RSS are the CLI's own (from wait4). Two baselines, measured in the same run, each in a fresh process,
before every plan:
- the raw scanner (`rawscan`): the same pages at the same concurrency, http.client + json.loads and nothing
  else. `plan_over_raw_wall` is issue 14's goal 1 (≤ 2); `scan_over_raw_wall` is what ecrgc's scan path
  alone costs over the wire's speed.
- ecrgc's bare inventory scan (`bench_plan_scan.scan_everything`), so `plan_over_scan_wall` says what
  deciding, summarising and writing the plan add on top of reading the registry.
Ratios are medians of the per-run ratios (each run's three figures are taken back to back). Calls are the
ones the sandbox received during the plan, against the minimum (`scan_everything`'s).
Then one more plan writes `--out plan.json.gz` (wall, CPU, RSS, size), and it and the last plain plan file
are loaded by `ecrgc validate` and `ecrgc show` (wall, CPU, peak RSS each; apply loads as validate does).

    ECRGC_BENCH_SCALE=small|full (default full: 200 repositories / 100,000 images, 2,000 / 1,000,000, and
                                  100,000 images in one repository; small: 20 / 10,000 and 1 / 10,000)
    ECRGC_BENCH_REPEAT=N         runs per registry (default 3); medians are reported
    ECRGC_BENCH_CASES=1M,...     only these registries of the scale, by name (default: all of them)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from ecrgc.aws import DEFAULT_WORKERS
from tests.bench.bench_plan_scan import sandbox_process, scan_everything
from tests.bench.rawscan import raw_scan


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    repositories: int
    images: int


CASES = {
    "full": (
        Case("100k", 200, 100_000),
        Case("1M", 2_000, 1_000_000),
        Case("100k-in-one-repository", 1, 100_000),  # ECR's most images in one repository
    ),
    "small": (Case("10k", 20, 10_000), Case("10k-in-one-repository", 1, 10_000)),
}

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
    scale = os.environ.get("ECRGC_BENCH_SCALE", "full")
    repeat = int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    ecrgc = shutil.which("ecrgc", path=str(Path(sys.executable).parent)) or "ecrgc"
    chosen = os.environ.get("ECRGC_BENCH_CASES", "").split(",")
    cases = {
        case.name: _case(case, ecrgc, repeat)
        for case in CASES[scale]
        if chosen == [""] or case.name in chosen
    }
    return {"scale": scale, "repeat": repeat, "workers": DEFAULT_WORKERS, "cases": cases}


def headline(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures issue 14 asks for, one row per figure and registry."""
    rows: list[tuple[str, str]] = []
    for name, case in report["cases"].items():
        plan, loads = case["plan"], case["plan_file_loads"]
        over = ", ".join(f"{op} {ratio}" for op, ratio in case["plan_calls_over_minimum"].items())
        rows += [
            (
                f"plan {name}: wall / CPU / peak RSS of the process tree (largest process)",
                f"{plan['wall_s']} s / {plan['cpu_s']} s / {plan['peak_tree_rss_mib']} MiB"
                f" ({plan['peak_rss_mib']} MiB)",
            ),
            (
                f"raw scanner {name}: wall / CPU ({report['workers']} threads)",
                f"{case['raw_scan']['wall_s']} s / {case['raw_scan']['cpu_s']} s",
            ),
            (
                f"sandbox CPU meanwhile {name}: raw scan / plan (it shares the cores)",
                f"{case['raw_scan']['sandbox_cpu_s']} s / {plan['sandbox_cpu_s']} s",
            ),
            (f"plan / raw scanner wall {name} (goal ≤ 2)", f"{case['plan_over_raw_wall']}"),
            (f"ecrgc scan / raw scanner wall {name}", f"{case['scan_over_raw_wall']}"),
            (f"plan calls / minimum {name}", over),
            (
                f"plan file {name}: bytes per deletion, .json / .json.gz",
                f"{plan['plan_file_bytes_per_action']} / {loads['plan_gz']['plan_file_bytes_per_action']}"
                f" ({plan['actions']} deletions)",
            ),
        ]
        rows += [
            (
                f"{command} {name}: wall / peak RSS of the process tree",
                f"{figures['wall_s']} s / {figures['peak_tree_rss_mib']} MiB",
            )
            for command, figures in loads.items()
            if command != "plan_gz"
        ]
    return rows


def _case(case: Case, ecrgc: str, repeat: int) -> dict[str, Any]:
    """One registry: `repeat` rounds of raw scan, ecrgc scan and plan, then the plan file's loads."""
    raws, scans, plans = [], [], []
    with (
        sandbox_process(case.repositories, case.images) as sandbox,
        tempfile.TemporaryDirectory() as scratch,
    ):
        work = Path(scratch)
        region = sandbox.environ["AWS_DEFAULT_REGION"]
        (work / "policy.yaml").write_text(POLICY.replace("us-east-1", region))
        for _ in range(repeat):
            before = sandbox.cpu_s()
            raws.append(_in_fresh_process(raw_scan, sandbox.environ, DEFAULT_WORKERS))
            raws[-1]["sandbox_cpu_s"] = round(sandbox.cpu_s() - before, 2)
            sandbox.ask("reset")
            scans.append(_in_fresh_process(scan_everything, sandbox.environ, DEFAULT_WORKERS, "adaptive"))
            scans[-1]["calls"] = sandbox.ask("calls")
            sandbox.ask("reset")
            before = sandbox.cpu_s()
            figures = _plan_once(ecrgc, work, sandbox.environ)
            figures["sandbox_cpu_s"] = round(sandbox.cpu_s() - before, 2)
            figures["calls"] = sandbox.ask("calls")
            print(
                f"bench_plan {case.name}: raw {raws[-1]} scan {scans[-1]} plan {figures}",
                file=sys.stderr,
                flush=True,
            )
            plans.append(figures)
        registry = sandbox.ask("stats")
        loads = _loads(ecrgc, work, sandbox.environ)
    minimum = scans[-1]["minimum"]
    return {
        "registry": registry,
        "plan": {
            **_medians(plans, "wall_s", "cpu_s", "peak_rss_mib", "peak_tree_rss_mib", "sandbox_cpu_s"),
            "wall_s_each": [p["wall_s"] for p in plans],
            "plan_file_mib": plans[-1]["plan_file_mib"],
            "plan_file_bytes_per_action": plans[-1]["plan_file_bytes_per_action"],
            "actions": plans[-1]["actions"],
            "calls": plans[-1]["calls"],
        },
        "plan_file_loads": loads,
        "raw_scan": {
            **_medians(raws, "wall_s", "cpu_s", "sandbox_cpu_s"),
            "images": raws[-1]["images"],
            "reconnects_each": [r["reconnects"] for r in raws],
        },
        "ecrgc_scan": {**_medians(scans, "wall_s", "cpu_s", "peak_rss_mib"), "images": scans[-1]["images"]},
        "plan_over_raw_wall": _ratio(plans, raws),
        "scan_over_raw_wall": _ratio(scans, raws),
        "plan_over_scan_wall": _ratio(plans, scans),
        "minimum_calls": minimum,
        "plan_calls_over_minimum": {
            op: round(plans[-1]["calls"].get(op, 0) / max(count, 1), 2) for op, count in minimum.items()
        },
        "describe_images_at_minimum": all(
            p["calls"].get("DescribeImages") == minimum["DescribeImages"] for p in plans
        ),
        "per_image_calls": sorted({op for p in plans for op in p["calls"]} - {*minimum, "GetCallerIdentity"}),
    }


def _in_fresh_process(measure: Callable[..., dict[str, Any]], *args: object) -> dict[str, Any]:
    """`measure(*args)` in a spawned process, so that its figures are its own (no warm imports, no heap)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure, *args).result()


def _medians(runs: list[dict[str, Any]], *keys: str) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in runs), 2) for key in keys}


def _ratio(runs: list[dict[str, Any]], baselines: list[dict[str, Any]]) -> float:
    """The median over runs of each run's wall time over its own baseline's."""
    pairs = zip(runs, baselines, strict=True)
    return round(statistics.median(float(run["wall_s"] / baseline["wall_s"]) for run, baseline in pairs), 2)


def _plan_once(ecrgc: str, work: Path, environ: dict[str, str], out: str = "plan.json") -> dict[str, Any]:
    figures = _measured([ecrgc, "plan", "policy.yaml", "--out", out, "--format", "json"], work, environ)
    summary = json.loads((work / "out.json").read_text())
    size, actions = (work / out).stat().st_size, summary["totals"]["images_to_delete"]
    return {
        **figures,
        "plan_file_mib": round(size / 2**20, 1),
        "plan_file_bytes_per_action": round(size / max(actions, 1)),
        "actions": actions,
    }


def _loads(ecrgc: str, work: Path, environ: dict[str, str]) -> dict[str, Any]:
    """One more plan, written compressed (`--out plan.json.gz`); then the last plain plan and it loaded by
    validate and show (apply loads a plan as validate does), each in its own process."""
    figures: dict[str, Any] = {"plan_gz": _plan_once(ecrgc, work, environ, "plan.json.gz")}
    for verb, extra in (("validate", []), ("show", ["--format", "json"])):
        for name in ("plan.json", "plan.json.gz"):
            figures[f"{verb} {name}"] = _measured([ecrgc, verb, name, *extra], work, environ)
    return figures


def _measured(command: list[str], work: Path, environ: dict[str, str]) -> dict[str, Any]:
    """Wall, CPU and peak RSS of `command` run in `work` (stdout to out.json, stderr to err.txt).

    CPU is the process's and its waited-for children's (wait4). `peak_rss_mib` is the largest single
    process's peak (wait4); `peak_tree_rss_mib` the largest sum of the RSS of the process and all its
    descendants, sampled every 20 ms: the figure goal 2 bounds once a plan runs in several processes.
    """
    env = {**os.environ, **environ, "LOGDIR": str(work / "logs")}
    start = time.perf_counter()
    # Output goes to files: a pipe nobody reads while waiting would block the CLI once it fills.
    with (work / "out.json").open("wb") as out, (work / "err.txt").open("wb") as err:
        process = subprocess.Popen(command, cwd=work, env=env, stdout=out, stderr=err)
        with _TreeRss(process.pid) as tree:
            _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[1]} failed: {(work / 'err.txt').read_text()[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024),
        "peak_tree_rss_mib": round(max(tree.peak, usage.ru_maxrss * 1024) / 2**20),
    }


class _TreeRss:
    """Samples the summed RSS of a process and its descendants (Linux /proc) until the block ends."""

    INTERVAL_S = 0.02

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._done.wait(self.INTERVAL_S):
            self.peak = max(self.peak, sum(_rss_pages(pid) for pid in _tree(self.pid)) * page)


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants now (those that exit meanwhile are skipped)."""
    found, todo = [], [pid]
    while todo:
        at = todo.pop()
        found.append(at)
        try:
            for task in Path(f"/proc/{at}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _rss_pages(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except OSError:  # exited since it was listed
        return 0
