"""`ecrgc demo`: plan → apply against the embedded sample registry, as the README's first command runs it."""

from __future__ import annotations

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
