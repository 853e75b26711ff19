"""`ecrgc plans list|prune-expired`: plan files ordered by created_at and expired by expires_at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ecrgc.cli import app
from ecrgc.commands.plans import run_list, run_prune_expired
from ecrgc.errors import PlanRefused, UsageError
from ecrgc.model import Plan
from ecrgc.planfile import FORMAT_VERSION, write_plan_file

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def plan(created: datetime, *, days: int = 7) -> Plan:
    return Plan(
        format_version=FORMAT_VERSION,
        ecrgc_version="0.1.0",
        created_at=created,
        expires_at=created + timedelta(days=days),
        account="123456789012",
        region="us-east-1",
        policies=(),
        inputs=(),
        actions=(),
        repository_deletions=(),
        protected=(),
        summary=(),
    )


@pytest.fixture
def plans(tmp_path: Path) -> Path:
    """Names that sort differently from their age: apply order must come from created_at."""
    directory = tmp_path / "plans"
    write_plan_file(plan(NOW - timedelta(days=1)), directory / "a-newest.json")
    write_plan_file(plan(NOW - timedelta(days=3)), directory / "b-middle.json")
    write_plan_file(plan(NOW - timedelta(days=9)), directory / "c-expired.json")
    write_plan_file(plan(NOW - timedelta(days=7)), directory / "d-expires-now.json")
    (directory / "README.md").write_text("not a plan\n", encoding="utf-8")
    return directory


def names(entries: list[Path]) -> list[str]:
    return [p.name for p in entries]


def test_list_is_oldest_first(plans: Path) -> None:
    entries = run_list(plans)

    assert names([e.path for e in entries]) == [
        "c-expired.json",
        "d-expires-now.json",
        "b-middle.json",
        "a-newest.json",
    ]
    assert [e.expired(NOW) for e in entries] == [True, True, False, False]


def test_prune_removes_only_expired_files(plans: Path) -> None:
    removed = run_prune_expired(plans, now=NOW)

    assert names([e.path for e in removed]) == ["c-expired.json", "d-expires-now.json"]
    assert sorted(p.name for p in plans.iterdir()) == ["README.md", "a-newest.json", "b-middle.json"]


def test_prune_dry_run_removes_nothing(plans: Path) -> None:
    removed = run_prune_expired(plans, now=NOW, dry_run=True)

    assert len(removed) == 2
    assert len(list(plans.glob("*.json"))) == 4


def test_a_tampered_plan_stops_the_listing(plans: Path) -> None:
    target = plans / "b-middle.json"
    target.write_text(target.read_text(encoding="utf-8").replace("us-east-1", "us-west-2"), encoding="utf-8")

    with pytest.raises(PlanRefused) as caught:
        run_list(plans)
    assert str(caught.value).startswith(str(target))


def test_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory of plan files"):
        run_list(tmp_path / "nope")


def cli(*args: str, tmp: Path) -> Result:
    return CliRunner().invoke(app, ["--log-dir", str(tmp / "logs"), "plans", *args])


def test_cli_lists_unexpired_plans_oldest_first(tmp_path: Path) -> None:
    """Against the real clock: plans made relative to now, so the expiry is unambiguous."""
    now = datetime.now(UTC)
    directory = tmp_path / "plans"
    write_plan_file(plan(now - timedelta(hours=1)), directory / "1.json")
    write_plan_file(plan(now - timedelta(days=2)), directory / "2.json")
    write_plan_file(plan(now - timedelta(days=30)), directory / "3.json")

    listed = cli("list", str(directory), "--unexpired", tmp=tmp_path)
    everything = cli("list", str(directory), tmp=tmp_path)
    pruned = cli("prune-expired", str(directory), tmp=tmp_path)

    assert listed.stdout == f"{directory / '2.json'}\n{directory / '1.json'}\n"
    assert everything.stdout.splitlines()[0] == str(directory / "3.json")
    assert pruned.stdout == f"{directory / '3.json'}\n"
    assert sorted(p.name for p in directory.iterdir()) == ["1.json", "2.json"]
