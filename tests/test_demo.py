"""`ecrgc demo`: plan → apply against the embedded sample registry, as the README's first command runs it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from ecrgc.cli import app
from ecrgc.planfile import load_plan_file
from ecrgc.refs import parse_reference


def test_demo_plans_applies_and_keeps_what_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--workdir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    plan = load_plan_file(tmp_path / "plan.json")
    deleted = len(plan.actions)
    assert deleted > 0
    assert f"ecrgc apply: {deleted} deleted" in result.stdout
    assert "== the registry now holds" in result.stdout
    assert "Traceback" not in result.output
    # Nothing the demo's image list names was planned for deletion, by tag or by digest.
    listed = [
        parse_reference(line)
        for line in (tmp_path / "demo-images.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    planned_tags = {(a.repository, tag) for a in plan.actions for tag in a.tags}
    planned_digests = {a.digest for a in plan.actions}
    for ref in listed:
        assert (ref.repository, ref.tag) not in planned_tags
        assert ref.digest not in planned_digests
    assert plan.protected


def test_the_demo_keeps_its_plan_where_it_says_and_counts_what_it_shows(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo"])

    assert result.exit_code == 0, result.output
    match = re.search(r"the plan file is (\S+)\n", result.stdout)
    assert match is not None
    plan_path = Path(match.group(1))
    try:
        plan = load_plan_file(plan_path)  # still there after the demo ended
        scanned = sum(s.scanned for s in plan.summary)
        table = re.findall(r"^(\S+/\S+) +([\d,]+) +[\d,]+ +[\d,]+ ", result.stdout, re.MULTILINE)
        assert sum(int(n.replace(",", "")) for _, n in table) == scanned
        assert f"== plan: the policy scanned {scanned} of the registry's " in result.stdout
        kept = result.stdout.split("== kept because they run", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
        assert 0 < len(kept) <= 5
        # named by its path, as every list outside the working directory is
        assert all(f" in use: {plan_path.parent}/demo-images.txt:" in line for line in kept)
        assert f"`ecrgc show {plan_path}`" in result.stdout
    finally:
        shutil.rmtree(plan_path.parent)
