"""Benchmark: `ecrgc plan --all-targets --out-dir` over 10 targets of 20,000 images each against one target
of 200,000 images (issue 15): what planning many registries costs over planning one of the same size.

One multi-registry sandbox (ECR and STS with 10 ms latency per call) in its own process holds every
registry; each target is its own account (five accounts x two regions; the baseline a sixth account) and is
planned through its planRoleArn, so each pays STS AssumeRole, its own clients, GetCallerIdentity and
DescribeRegistry. Every measured plan is the installed CLI in a fresh process. The per-target overhead is
measured with the same command on empty registries: (10 empty targets - 1 empty target) / 9.

    ECRGC_BENCH_SCALE=small|full (default full: 10 x 20,000 vs 1 x 200,000 images)
    ECRGC_BENCH_REPEAT=N         runs per configuration (default 3); medians are reported
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ecrgc.sandbox import Sandbox
from ecrgc.sandbox.synth import SynthSpec, generate
from tests.bench.sandboxproc import SandboxClient, served

LATENCY_MS = 10.0
REGIONS = ("us-east-1", "eu-west-1")
POLICY = """\
apiVersion: ecrgc/v1
kind: Policy
metadata: {name: everything}
spec:
  repositories: {include: ['.']}
  rules: {keepLatest: 10}
"""


@dataclass(frozen=True, slots=True)
class Scale:
    targets: int
    images: int
    """Images of each of the many targets; the one target holds `targets` x as many."""
    repositories: int
    """Repositories of each of the many targets; the one target holds `targets` x as many."""


SCALES = {
    "full": Scale(targets=10, images=20_000, repositories=40),
    "small": Scale(targets=10, images=2_000, repositories=8),
}


@dataclass(frozen=True, slots=True)
class Registry:
    """A target of the bench: a name, an account and a region of the sandbox."""

    name: str
    account: str
    region: str


def layouts(scale: Scale) -> dict[str, list[Registry]]:
    """The four configurations: many and one target with images, and the same two empty."""

    def many(first: int, prefix: str) -> list[Registry]:
        return [
            Registry(f"{prefix}{n:02d}", f"{first + n // len(REGIONS):012d}", REGIONS[n % len(REGIONS)])
            for n in range(scale.targets)
        ]

    return {
        "many": many(100_000_000_000, "t"),
        "one": [Registry("all", f"{999_999_999_999:012d}", REGIONS[0])],
        "many_empty": many(200_000_000_000, "e"),
        "one_empty": [Registry("empty", f"{300_000_000_000:012d}", REGIONS[0])],
    }


def run() -> dict[str, object]:
    """Measure and report; never asserts a time."""
    name = os.environ.get("ECRGC_BENCH_SCALE", "full")
    scale, repeat = SCALES[name], int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    report: dict[str, object] = {"scale": name, "repeat": repeat, "latency_ms": LATENCY_MS}
    with served(serve, scale) as sandbox, tempfile.TemporaryDirectory(prefix="ecrgc-bench-targets-") as tmp:
        report["registries"] = sandbox.ask("stats")
        runs = {
            label: _measure(sandbox, Path(tmp) / label, targets, repeat)
            for label, targets in layouts(scale).items()
        }
    report["runs"] = runs
    many, one = runs["many"]["wall_s"], runs["one"]["wall_s"]
    overhead = (runs["many_empty"]["wall_s"] - runs["one_empty"]["wall_s"]) / (scale.targets - 1)
    report["ratio_many_over_one"] = round(many / one, 3)
    report["per_target_overhead_s"] = round(overhead, 3)
    report["overhead_of_all_targets_over_one_plan"] = round(overhead * scale.targets / one, 3)
    return report


def headline(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The figures worth a line in the runner's table."""
    runs = report["runs"]
    return [
        ("10 targets: plan --all-targets wall s", str(runs["many"]["wall_s"])),
        ("1 target of as many images: wall s", str(runs["one"]["wall_s"])),
        ("ratio 10 targets / 1 target", str(report["ratio_many_over_one"])),
        ("per-target overhead s (STS, clients)", str(report["per_target_overhead_s"])),
    ]


def _measure(sandbox: SandboxClient, root: Path, targets: Sequence[Registry], repeat: int) -> dict[str, Any]:
    """Medians over `repeat` fresh `ecrgc plan --all-targets` processes, with the calls received."""
    _write_repository(root, targets)
    walls, cpus, calls = [], [], []
    for n in range(repeat):
        sandbox.ask("reset")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "ecrgc",
                "--log-dir",
                "logs",
                "plan",
                "--all-targets",
                "--out-dir",
                f"plans{n}",
            ],
            cwd=root,
            env={**os.environ, **sandbox.environ},
            capture_output=True,
            text=True,
            check=False,
        )
        walls.append(round(time.perf_counter() - start, 2))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2))
        calls.append(sandbox.ask("calls"))
        if done.returncode != 0:
            raise RuntimeError(f"plan --all-targets failed ({done.returncode}): {done.stderr[-2000:]}")
        print(f"bench_targets: {root.name} run {n + 1}: {walls[-1]} s", file=sys.stderr, flush=True)
    return {
        "targets": len(targets),
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "wall_s_each": walls,
        "calls": calls[-1],
    }


def _write_repository(root: Path, targets: Sequence[Registry]) -> None:
    """A policy repository whose targets.yaml names `targets`, each planned through its planRoleArn."""
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "everything.yaml").write_text(POLICY, encoding="utf-8")
    lines = ["apiVersion: ecrgc/v1", "kind: Targets", "spec:", "  targets:"]
    lines.extend(
        f'    - {{name: {t.name}, account: "{t.account}", region: {t.region},'
        f' planRoleArn: "arn:aws:iam::{t.account}:role/ecrgc-plan", policies: [everything]}}'
        for t in targets
    )
    (root / "targets.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def serve(pipe: Connection, scale: Scale) -> None:
    """The sandbox process: seed every registry, serve, answer the benchmark until told to stop."""
    with Sandbox() as sandbox:
        start = time.perf_counter()
        stored: dict[str, int] = {}
        for label, targets in layouts(scale).items():
            if label.endswith("_empty"):
                continue
            factor = scale.targets // len(targets)
            spec = SynthSpec(repositories=scale.repositories * factor, images=scale.images * factor)
            for target in targets:
                stored[target.name] = generate(sandbox.registry_for(target.account, target.region), spec)
        stats = {"images": stored, "seed_s": round(time.perf_counter() - start, 1)}
        sandbox.knobs.latency_ms = LATENCY_MS
        pipe.send(sandbox.environ())
        while (command := pipe.recv())[0] != "stop":
            match command:
                case ("stats",):
                    pipe.send(stats)
                case ("reset",):
                    sandbox.calls.reset()
                    pipe.send(None)
                case ("calls",):
                    pipe.send(dict(sandbox.calls.snapshot()))
                case _:
                    raise ValueError(f"unknown command {command!r}")
