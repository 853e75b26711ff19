"""`ecrgc.start`: a start made without the cyclic collector, then frozen, in ecrgc's own processes only."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from ecrgc import start

_OWN_PROCESS = """
import gc
from ecrgc import start

start.own()
frozen = gc.get_freeze_count()
with start.starting():
    assert not gc.isenabled()
    made = [{"n": n} for n in range(1_000)]  # tracked by the collector, kept past the start
assert gc.isenabled()
assert gc.get_freeze_count() >= frozen + len(made), (frozen, gc.get_freeze_count())
try:
    with start.starting():
        raise KeyError("x")
except KeyError:
    assert gc.isenabled()
else:
    raise AssertionError("the start's error is raised")
gc.disable()
with start.starting():  # a process whose collector is off already keeps it off, and freezes nothing
    before = gc.get_freeze_count()
    made.append({})
assert not gc.isenabled() and gc.get_freeze_count() == before
print("ok")
"""


def test_a_start_in_ecrgcs_own_process_runs_without_the_collector_and_is_frozen() -> None:
    ran = subprocess.run([sys.executable, "-c", _OWN_PROCESS], capture_output=True, text=True, check=False)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "ok\n", "")


def test_a_start_in_another_process_leaves_its_collector_alone() -> None:
    """A test runner calling the commands (this process) keeps its collector on, and nothing is frozen."""
    frozen = gc.get_freeze_count()
    with start.starting():
        assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
    with pytest.raises(KeyError), start.starting():
        raise KeyError("x")
    assert gc.isenabled()
