"""Run the benchmarks: every `tests/bench/bench_*.py` (or those named on the command line) and report.

A bench module is found by its name and registers nothing else: `run()` measures and returns its report
(printed as one JSON document as soon as it completes); an optional `headline(report)` picks the figures
worth a line, as (figure, value) rows, printed together in a table once every bench has run.
"""

from __future__ import annotations

import compileall
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

import ecrgc


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
    """Run and print each report as it completes (JSON, one document per bench), then the headlines."""
    headlines: list[tuple[str, list[tuple[str, str]]]] = []
    names = modules(argv)
    compile_ecrgc()
    for name in names:
        print(f"# {name}", file=sys.stderr, flush=True)
        module = importlib.import_module(f"tests.bench.{name}")
        start = time.perf_counter()
        report = module.run()
        print(
            json.dumps(
                {"bench": name, "seconds": round(time.perf_counter() - start, 1), **report},
                indent=2,
                default=str,
            )
        )
        sys.stdout.flush()
        if hasattr(module, "headline"):
            headlines.append((name, module.headline(report)))
    print(table(headlines))
    return 0


def compile_ecrgc() -> None:
    """ecrgc's modules compiled to bytecode beside their source (`__pycache__/`, ignored by git), as
    `pip install` compiles an installed ecrgc's (the GitHub Action's too).

    An editable install under PYTHONDONTWRITEBYTECODE (this machine's and CI's environment) never writes
    them, so every ecrgc process a bench starts would compile its modules again (~0.05-0.13 s of CPU a
    process, issue 14), which no installed ecrgc pays. Python reads them whatever that variable says.
    """
    if not compileall.compile_dir(Path(ecrgc.__file__).parent, quiet=1):
        raise SystemExit("bench: compiling ecrgc's modules failed")


def table(headlines: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """The headline rows of every bench that has some, under its name, figures aligned."""
    width = max((len(figure) for _, rows in headlines for figure, _ in rows), default=0)
    lines = ["# headlines"]
    for name, rows in headlines:
        lines.append(f"## {name}")
        lines.extend(f"{figure.ljust(width)}  {value}" for figure, value in rows)
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
