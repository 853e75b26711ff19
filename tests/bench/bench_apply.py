"""Benchmark: apply ~100,000 deletions across 500 repositories on the sandbox (issue 5, item 4).

The sandbox runs in its own process with 10 ms latency on every call and a token bucket on
BatchDeleteImage; each measured apply runs in a fresh process (wall, CPU and peak RSS are apply's alone),
on a registry re-seeded to the same images before every run, with the same reviewed plan. The bound is
the calls apply needs (per repository and per level of the plan's parent chains, ceil(n/100) each)
divided by the allowed rate; retries are the BatchDeleteImage calls the sandbox received beyond those.
`load_s` (reading and validating the plan file) is reported apart from `apply_s` (verify + delete).

    ECRGC_BENCH_SCALE=small|full (default full: 500 repositories, ~100,000 deletions)
    ECRGC_BENCH_REPEAT=N         runs per configuration (default 3); medians are reported
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ecrgc.apply import apply_plan
from ecrgc.aws import Registry, RetryMode
from ecrgc.commands import plan as plan_command
from ecrgc.planfile import depths, load_plan_file, write_plan_file
from ecrgc.policy import load_policy_text
from ecrgc.sandbox import Sandbox
from ecrgc.sandbox.synth import SynthSpec, generate
from ecrgc.usage import collect
from tests.bench.sandboxproc import SandboxClient, served

LATENCY_MS = 10.0
DELETE_RATE = 50.0
"""BatchDeleteImage calls per second the sandbox admits (a token bucket with a burst of one second)."""
WORKERS = 8
KEEP_LATEST = 5
SEED_TIME = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = f"""\
apiVersion: ecrgc/v1
kind: Policy
metadata: {{name: bench}}
spec:
  region: ap-northeast-1
  repositories: {{include: ['^bench/']}}
  rules: {{untagged: true, keepLatest: {KEEP_LATEST}}}
  action: delete
"""


@dataclass(frozen=True, slots=True)
class Scale:
    repositories: int
    images_per_repository: int


SCALES = {"full": Scale(repositories=500, images_per_repository=207), "small": Scale(50, 207)}


def run() -> dict[str, object]:
    """Measure and report; never asserts a time."""
    name = os.environ.get("ECRGC_BENCH_SCALE", "full")
    scale, repeat = SCALES[name], int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    report: dict[str, object] = {
        "scale": name,
        "repeat": repeat,
        "latency_ms": LATENCY_MS,
        "delete_rate_per_second": DELETE_RATE,
        "workers": WORKERS,
    }
    with sandbox_process(scale) as sandbox, tempfile.TemporaryDirectory() as scratch:
        plan_path = _plan(sandbox.environ, Path(scratch))
        needed = calls_needed(plan_path)
        report |= {
            "registry": sandbox.ask("stats"),
            "deletions": len(load_plan_file(plan_path).actions),
            "batch_delete_calls_needed": needed,
            "bound_s": round(needed / DELETE_RATE, 1),
        }
        report["runs"] = [
            _measure(sandbox, plan_path, mode=mode, repeat=repeat, needed=needed)
            for mode in ("standard", "adaptive")
        ]
    return report


def headline(report: dict[str, Any]) -> list[tuple[str, str]]:
    """Apply against its rate bound, per retry mode (issue 14 goal 4: ≤ 1.2)."""
    bound = f"{report['deletions']} deletions, bound {report['bound_s']} s"
    return [
        (
            f"apply over its rate bound ({bound}), {run['retry_mode']}",
            f"{run['apply_over_bound']} (apply {run['apply_s']} s, load {run['load_s']} s, "
            f"{run['peak_rss_mib']} MiB)",
        )
        for run in report["runs"]
    ]


def _plan(environ: Mapping[str, str], directory: Path) -> Path:
    """The reviewed plan, made once by the real `run_plan` before any latency or throttling is set."""
    os.environ.update(environ)
    plan = plan_command.run_plan(
        [load_policy_text(POLICY, "bench.yaml")],
        inventory=Registry(environ["AWS_DEFAULT_REGION"], workers=WORKERS),
        usage=collect,
        now=datetime.now(UTC),
    )
    path = directory / "plan.json"
    write_plan_file(plan, path)
    return path


def calls_needed(plan_path: Path) -> int:
    """BatchDeleteImage calls apply needs: per repository and per parent-chain level, ceil(n / 100)."""
    by_repository: dict[str, list[Any]] = {}
    for action in load_plan_file(plan_path).actions:
        by_repository.setdefault(action.repository, []).append(action)
    total = 0
    for actions in by_repository.values():
        levels = Counter(depths(actions).values())
        total += sum(math.ceil(n / 100) for n in levels.values())
    return total


def _measure(
    sandbox: SandboxClient, plan_path: Path, *, mode: RetryMode, repeat: int, needed: int
) -> dict[str, object]:
    runs = []
    for _ in range(repeat):
        sandbox.ask("reseed")
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            figures = pool.submit(apply_everything, sandbox.environ, str(plan_path), mode).result()
        figures["calls"] = sandbox.ask("calls")
        runs.append(figures)
    deletes = [r["calls"].get("BatchDeleteImage", 0) for r in runs]
    return {
        "retry_mode": mode,
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "wall_s_each": [r["wall_s"] for r in runs],
        "load_s": statistics.median(r["load_s"] for r in runs),
        "apply_s": statistics.median(r["apply_s"] for r in runs),
        "apply_over_bound": round(statistics.median(r["apply_s"] for r in runs) / (needed / DELETE_RATE), 2),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "peak_rss_mib": statistics.median(r["peak_rss_mib"] for r in runs),
        "batch_delete_calls_received_each": deletes,
        "retries_each": [d - needed for d in deletes],
        "outcomes_each": [r["outcomes"] for r in runs],
        "calls_last_run": runs[-1]["calls"],
    }


def apply_everything(environ: Mapping[str, str], plan_path: str, mode: RetryMode) -> dict[str, Any]:
    """One measured apply of the plan (runs in a fresh process)."""
    os.environ.update(environ)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    plan = load_plan_file(plan_path)
    loaded = time.perf_counter()
    result = apply_plan(
        plan,
        source=plan_path,
        policies=[load_policy_text(POLICY, "bench.yaml")],
        registry=Registry(environ["AWS_DEFAULT_REGION"], workers=WORKERS, retry_mode=mode),
        usage=collect,
        now=datetime.now(UTC),
        workers=WORKERS,
    )
    return {
        "load_s": round(loaded - start_wall, 2),
        "apply_s": round(time.perf_counter() - loaded, 2),
        "wall_s": round(time.perf_counter() - start_wall, 2),
        "cpu_s": round(time.process_time() - start_cpu, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "outcomes": {str(status): n for status, n in result.report.counts().items() if n},
    }


def sandbox_process(scale: Scale) -> AbstractContextManager[SandboxClient]:
    """A sandbox holding the benchmark registry, served from its own process until the block ends."""
    return served(serve, scale)


def serve(pipe: Connection, scale: Scale) -> None:
    """The sandbox process: seed, serve, and answer the benchmark's requests until told to stop."""
    spec = SynthSpec(
        repositories=scale.repositories,
        images=scale.repositories * scale.images_per_repository,
        skew=0.0,
        index_share=0.05,
        referrer_share=0.05,
        prefix="bench",
    )
    with Sandbox() as sandbox:
        stats = _seed(sandbox, spec)
        pipe.send(sandbox.environ())
        while (command := pipe.recv())[0] != "stop":
            pipe.send(_answer(sandbox, command, spec, stats))


def _seed(sandbox: Sandbox, spec: SynthSpec) -> dict[str, object]:
    """The same registry every time (fixed random seed, frozen clock), with no faults while seeding."""
    sandbox.knobs.latency_ms, sandbox.knobs.throttles = 0.0, {}
    with sandbox.registry.lock:
        for name in list(sandbox.registry.repositories):
            sandbox.registry.delete_repository(name, force=True)
        sandbox.clock.set(SEED_TIME)
        stored = generate(sandbox.registry, spec)
    sandbox.clock.set(SEED_TIME, frozen=False)
    return {"images": stored, "repositories": spec.repositories, "spec": repr(spec)}


def _answer(
    sandbox: Sandbox, command: tuple[Any, ...], spec: SynthSpec, stats: Mapping[str, object]
) -> object:
    match command:
        case ("stats",):
            return stats
        case ("reseed",):
            _seed(sandbox, spec)
            sandbox.calls.reset()
            sandbox.knobs.latency_ms = LATENCY_MS
            sandbox.knobs.throttle("BatchDeleteImage", rate=DELETE_RATE)
            return None
        case ("calls",):
            return dict(sandbox.calls.snapshot())
    raise ValueError(f"unknown command {command!r}")


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
