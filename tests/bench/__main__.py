"""Run the benchmarks: every `tests/bench/bench_*.py` (or those named on the command line) and report."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path


def modules(selected: list[str]) -> list[str]:
    """The bench modules to run, by short name (`sandbox` for bench_sandbox)."""
    found = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_")
    )
    if not selected:
        return found
    unknown = [s for s in selected if f"bench_{s}" not in found]
    if unknown:
        raise SystemExit(f"unknown bench {unknown}; known: {[n.removeprefix('bench_') for n in found]}")
    return [f"bench_{s}" for s in selected]


def main(argv: list[str]) -> int:
    """Run and print each report as it completes (JSON, one document per bench)."""
    for name in modules(argv):
        print(f"# {name}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        report = importlib.import_module(f"tests.bench.{name}").run()
        print(
            json.dumps(
                {"bench": name, "seconds": round(time.perf_counter() - start, 1), **report},
                indent=2,
                default=str,
            )
        )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
