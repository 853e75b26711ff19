"""Benchmark: the plan file and its views for a 700,000-action plan (a 1,000,000-image registry).

The plan is built in memory once (not timed; `tests.test_planfile.big_plan`, canonical like the planner's:
2,000 repositories, every tenth action an index with two children). Then each step runs REPEAT times and
the report gives the median wall seconds: `dumps`, `loads` of that text (parse, hash, schema, summary
checks), `content_hash`, `canonical` (the planner's, dumps' and content_hash's re-ordering), `plan_json`
and `plan_text` with and without the hash handed in (as the CLI does after writing the file), and
`plan_markdown` (the PR comment, cut to GitHub's limit). No sandbox and no I/O.

    ECRGC_BENCH_SCALE=small|full (default full: 700,000 actions; small: 7,000)
    ECRGC_BENCH_REPEAT=N         runs per step (default 3); medians are reported
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

from ecrgc import planfile, render
from tests.test_planfile import big_plan


def run() -> dict[str, object]:
    """Build the plan, time each step REPEAT times, report medians (and the file size)."""
    actions = 7_000 if os.environ.get("ECRGC_BENCH_SCALE") == "small" else 700_000
    repeat = int(os.environ.get("ECRGC_BENCH_REPEAT", "3"))
    start = time.perf_counter()
    plan = big_plan(actions, 2_000)
    built = time.perf_counter() - start
    text = planfile.dumps(plan)
    sha256 = planfile.content_hash(plan)
    steps: dict[str, Callable[[], object]] = {
        "dumps": lambda: planfile.dumps(plan),
        "loads": lambda: planfile.loads(text),
        "content_hash": lambda: planfile.content_hash(plan),
        "canonical": lambda: planfile.canonical(plan),
        "plan_json": lambda: render.plan_json(plan),
        "plan_json_given_sha256": lambda: render.plan_json(plan, sha256=sha256),
        "plan_text": lambda: render.plan_text(plan),
        "plan_text_given_sha256": lambda: render.plan_text(plan, sha256=sha256),
        "plan_markdown": lambda: render.plan_markdown(plan),
    }
    return {
        "actions": len(plan.actions),
        "repositories": len(plan.summary),
        "file_bytes": len(text.encode("utf-8")),
        "file_lines": text.count("\n"),
        "build_seconds": round(built, 1),
        "median_seconds": {name: _median(step, repeat) for name, step in steps.items()},
    }


def _median(step: Callable[[], object], repeat: int) -> float:
    walls = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        walls.append(time.perf_counter() - start)
    return round(statistics.median(walls), 3)
