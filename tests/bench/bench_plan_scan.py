"""Benchmark: scan a large synthetic registry in the sandbox with ecrgc's inventory code (issue 4, item 7).

The sandbox (ECR with 10 ms latency per call) runs in its own process, and every measured scan in a fresh
process too, so the figures (wall, CPU, peak RSS) are the scanner's alone. The scanner keeps every
repository it scanned, as `ecrgc plan` does. Minimum calls: DescribeImages Σ ceil(images/1000) per
repository, BatchGetImage Σ ceil(indexes/100), DescribeRepositories ceil(repositories/1000).

    ECRGC_BENCH_SCALE=small|full (default full: 2,000 repositories / 1,000,000 images)
    ECRGC_BENCH_REPEAT=N         runs per configuration (default 3); medians are reported
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from ecrgc.aws import Registry, RetryMode
from ecrgc.errors import EcrgcError
from ecrgc.sandbox import Sandbox
from ecrgc.sandbox.synth import SynthSpec, generate
from tests.bench.sandboxproc import SandboxClient, served

LATENCY_MS = 10.0
SHARE = 1 / 17
"""Index and signature share of pushes so that 5 % of all images are indexes and 5 % are signatures
(a push is 1 image, or 3 for an index with two children, plus 1 for a signature)."""


@dataclass(frozen=True, slots=True)
class Scale:
    repositories: int
    images: int
    workers: tuple[int, ...]
    """Worker counts compared without throttling."""
    throttle_rate: float
    """Calls per second the sandbox admits (all operations together) when comparing retry modes: about a
    fifth of what the unthrottled scan reaches, so throttling is heavy."""


SCALES = {
    "full": Scale(repositories=2_000, images=1_000_000, workers=(8, 16, 32), throttle_rate=100.0),
    "small": Scale(repositories=200, images=100_000, workers=(4, 8, 16, 32), throttle_rate=10.0),
}
THROTTLED_WORKERS = 32


def run() -> dict[str, object]:
    """Measure and report; never asserts a time."""
    name = os.environ.get("ECRGC_BENCH_SCALE", "full")
    scale, repeat = SCALES[name], int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    report: dict[str, object] = {"scale": name, "repeat": repeat, "latency_ms": LATENCY_MS}
    with sandbox_process(scale.repositories, scale.images) as sandbox:
        report["registry"] = sandbox.ask("stats")
        report["runs"] = [_measure(sandbox, workers=w, mode="adaptive", repeat=repeat) for w in scale.workers]
        sandbox.ask("throttle", scale.throttle_rate)
        report["throttled"] = {
            "rate_per_second": scale.throttle_rate,
            "note": "calls count every request received, throttled attempts included",
            "runs": [
                _measure(sandbox, workers=THROTTLED_WORKERS, mode=mode, repeat=repeat)
                for mode in ("standard", "adaptive")
            ],
        }
    return report


def headline(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The scan's wall and CPU per thread count, and under throttling per retry mode."""
    images = report["registry"]["images"]
    rows = [
        (f"ecrgc scan {images} images, {run['workers']} threads: wall / CPU", _figures(run))
        for run in report["runs"]
    ]
    throttled = report["throttled"]
    rows += [
        (
            f"ecrgc scan at {throttled['rate_per_second']} calls/s, {run['retry_mode']}: wall / CPU",
            _figures(run),
        )
        for run in throttled["runs"]
    ]
    return rows


def _figures(run: Mapping[str, Any]) -> str:
    if "wall_s" not in run:
        return f"failed: {run['errors'][0]}"
    return f"{run['wall_s']} s / {run['cpu_s']} s ({run['peak_rss_mib']} MiB)"


def _measure(sandbox: SandboxClient, *, workers: int, mode: RetryMode, repeat: int) -> dict[str, object]:
    """Medians over `repeat` fresh-process scans of everything, with the calls the sandbox received."""
    runs = []
    for _ in range(repeat):
        sandbox.ask("reset")
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            figures = pool.submit(scan_everything, sandbox.environ, workers, mode).result()
        figures["calls"] = sandbox.ask("calls")
        print(f"bench_plan_scan: {workers} workers, {mode}: {figures}", file=sys.stderr, flush=True)
        runs.append(figures)
    return _summary(runs, workers=workers, mode=mode)


def _summary(runs: list[dict[str, Any]], *, workers: int, mode: RetryMode) -> dict[str, object]:
    """Medians of the runs that finished; the errors of those that did not (e.g. throttled out)."""
    summary: dict[str, object] = {"workers": workers, "retry_mode": mode, "runs": len(runs)}
    summary["errors"] = [r["error"] for r in runs if "error" in r]
    summary["calls_received_each"] = [sum(r["calls"].values()) for r in runs]
    finished = [r for r in runs if "error" not in r]
    if not finished:
        return summary
    minimum: Mapping[str, int] = finished[-1]["minimum"]
    summary |= {
        "wall_s": statistics.median(r["wall_s"] for r in finished),
        "cpu_s": statistics.median(r["cpu_s"] for r in finished),
        "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in finished),
        "wall_s_each": [r["wall_s"] for r in finished],
        "images": finished[-1]["images"],
        "calls": finished[-1]["calls"],
        "minimum_calls": dict(minimum),
        "describe_images_at_minimum": all(
            r["calls"]["DescribeImages"] == minimum["DescribeImages"] for r in finished
        ),
        "only_batch_operations": all(set(r["calls"]) <= {*minimum, "GetCallerIdentity"} for r in finished),
    }
    return summary


def scan_everything(environ: Mapping[str, str], workers: int, mode: RetryMode) -> dict[str, Any]:
    """One measured scan of every repository (runs in a fresh process)."""
    os.environ.update(environ)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    registry = Registry(environ["AWS_DEFAULT_REGION"], workers=workers, retry_mode=mode)
    try:
        names = [name for name, _, _ in registry.list_repositories(lambda _: True)]
        repositories = list(registry.scan(names))
    except EcrgcError as exc:  # e.g. throttled beyond the retries: a figure to report, not a crash
        return {"error": str(exc), "wall_s": round(time.perf_counter() - start_wall, 2)}
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    images = [len(r.images) for r in repositories]
    indexes = [sum(i.is_index for i in r.images) for r in repositories]
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "images": sum(images),
        "minimum": {
            "DescribeRepositories": math.ceil(len(names) / 1000) or 1,
            "DescribeImages": sum(max(1, math.ceil(n / 1000)) for n in images),
            "BatchGetImage": sum(math.ceil(n / 100) for n in indexes),
        },
    }


def sandbox_process(repositories: int, images: int) -> AbstractContextManager[SandboxClient]:
    """A sandbox holding a synthetic registry of `images` in `repositories` (5 % indexes, 5 % signatures,
    10 ms per call), served from its own process until the block ends."""
    return served(serve, (repositories, images))


def serve(pipe: Connection, size: tuple[int, int]) -> None:
    """The sandbox process: seed, serve, and answer the benchmark's requests until told to stop."""
    repositories, images = size
    spec = SynthSpec(repositories=repositories, images=images, index_share=SHARE, referrer_share=SHARE)
    with Sandbox() as sandbox:
        start = time.perf_counter()
        stored = generate(sandbox.registry, spec)
        stats = {
            "images": stored,
            "repositories": repositories,
            "seed_s": round(time.perf_counter() - start, 1),
            "spec": repr(spec),
        }
        sandbox.knobs.latency_ms = LATENCY_MS
        pipe.send(sandbox.environ())
        while (command := pipe.recv())[0] != "stop":
            pipe.send(_answer(sandbox, command, stats))


def _answer(sandbox: Sandbox, command: tuple[Any, ...], stats: Mapping[str, object]) -> object:
    match command:
        case ("stats",):
            return stats
        case ("reset",):
            sandbox.calls.reset()
            return None
        case ("calls",):
            return dict(sandbox.calls.snapshot())
        case ("throttle", rate):
            sandbox.knobs.throttle("*", rate=rate)
            return None
    raise ValueError(f"unknown command {command!r}")
