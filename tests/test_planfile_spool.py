"""A plan made by `run_plan` is encoded as each repository is decided (planfile/spool.py) and written from
there: its file must be, byte for byte, the file of the same plan written the general way (every list in
memory, sorted and encoded when written), in both layouts, with the actions held in memory or spooled."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ecrgc.aws import Registry
from ecrgc.commands import plan as plan_command
from ecrgc.commands import planbuilder
from ecrgc.model import Plan
from ecrgc.planfile import content_hash, load_plan_file, write_plan_file, writing
from ecrgc.planfile.spool import Spooled, spool_of
from ecrgc.policy import load_policies
from ecrgc.render import facts
from ecrgc.sandbox import Sandbox
from ecrgc.usage import collector
from tests.test_plan_e2e import REGION, build_scenario


def _made(sandbox: Sandbox, workdir: Path, *, columns: bool) -> Plan:
    now = datetime.fromtimestamp(sandbox.clock.now(), UTC)
    for name in ("svc/zeta", "svc/alpha"):  # scanned in any order, written by name
        for n in range(3):
            sandbox.registry.push_image(name, tags=[f"t{n}", f"a{n}"], pushed_at=now - timedelta(days=40 + n))
    return plan_command.run_plan(
        load_policies([workdir / "policies" / "svc.yaml"]),
        inventory=Registry(REGION, workers=4),
        usage=collector(),
        now=now,
        columns=columns,
    )


def _in_memory(plan: Plan) -> Plan:
    """The same plan with plain lists: written the general way."""
    return replace(plan, actions=list(plan.actions), kept=list(plan.kept), protected=list(plan.protected))


@pytest.mark.parametrize("columns", [False, True])
@pytest.mark.parametrize("held", [True, False])
def test_a_spooled_plan_writes_the_bytes_of_the_general_writer(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    columns: bool,
    held: bool,
) -> None:
    build_scenario(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)
    if not held:
        monkeypatch.setattr(planbuilder, "ACTIONS_IN_MEMORY", 10)
        monkeypatch.setattr(writing, "_BATCH_BYTES", 500)  # a repository's records a few at a time
    made = _made(sandbox, tmp_path, columns=columns)
    assert spool_of(made) is not None
    assert isinstance(made.actions, Spooled) is not held
    general = _in_memory(made)
    assert spool_of(general) is None

    for name in ("plan.json", "plan.json.gz"):
        write_plan_file(made, tmp_path / f"spooled-{name}")
        write_plan_file(general, tmp_path / f"general-{name}")
        assert (tmp_path / f"spooled-{name}").read_bytes() == (tmp_path / f"general-{name}").read_bytes()
        loaded = load_plan_file(tmp_path / f"spooled-{name}")
        assert loaded == made  # the spool's views read back what the file holds
        assert [a.digest for a in loaded.actions] == [a.digest for a in made.actions]
    assert content_hash(made) == content_hash(general)
    assert facts.rows(made) == facts.rows(general)  # the views read the spool without its records
    assert facts.alerts(made, facts.rows(made)) == facts.alerts(general, facts.rows(general))
    for mine, theirs in ((made.actions, general.actions), (made.kept, general.kept)):
        assert facts.tags_by_repository(mine) == facts.tags_by_repository(theirs)
    assert made.actions[-1] == general.actions[-1]
    assert list(made.kept[1:3]) == list(general.kept[1:3])


def test_a_plan_edited_in_memory_is_written_the_general_way(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the spool's own lists are written from it: a plan given other images is written as it is."""
    build_scenario(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)
    made = _made(sandbox, tmp_path, columns=False)
    fewer = replace(made, actions=made.actions[1:])
    assert spool_of(fewer) is None
    write_plan_file(fewer, tmp_path / "fewer.json")
    written = json.loads((tmp_path / "fewer.json").read_text())["actions"]
    assert [a["imageDigest"] for a in written] == [a.digest for a in made.actions[1:]]
