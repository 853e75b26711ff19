"""`run_plan` in worker processes (commands/planworkers.py) against the sandbox: the plan file's bytes are
the single process's, whatever the number of processes; a failure inside a worker stops the plan with the
single process's message; a worker that dies stops it too; no worker outlives the plan."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ecrgc.aws import Registry
from ecrgc.commands import plan as plan_command
from ecrgc.commands import planbuilder, planworkers
from ecrgc.commands.plan import PlanPhase, PlanProgress
from ecrgc.errors import EcrgcError, SourceUnavailable
from ecrgc.model import Plan, Repository
from ecrgc.planfile import load_plan_file, write_plan_file
from ecrgc.planfile.spool import Spool, Spooled
from ecrgc.policy import load_policies
from ecrgc.sandbox import Sandbox
from ecrgc.usage import collector
from tests.test_plan_e2e import ECRGC, POLICY, REGION, build_scenario, run_ecrgc

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _registry(sandbox: Sandbox, workdir: Path) -> None:
    """The e2e scenario (indexes, referrers, images in use, 1,200 images in one repository) and ten more
    repositories, two of which the plan empties (and deletes: deleteEmptyRepositories)."""
    sandbox.clock.set(NOW - timedelta(minutes=5))  # frozen: reading an index (a pull) stamps the same time
    build_scenario(sandbox, workdir)
    for n in range(10):
        for i in range(n % 4 + 1):
            sandbox.registry.push_image(
                f"svc/r{n}",
                tags=[f"b{i}"] if n >= 2 else [],
                pushed_at=NOW - timedelta(days=(20 if n < 2 else 2) + i),  # r2 on: too young to go
                salt=f"r{n}",
            )
    policy = POLICY.replace("keepLatest: 3", "keepLatest: 0")
    policy = policy.replace("holdTags: ['^release-']", "holdTags: []")
    policy = policy.replace("  protect:", "  deleteEmptyRepositories: true\n  protect:")
    (workdir / "policies" / "svc.yaml").write_text(policy)


def _plan(workdir: Path, processes: int, *, columns: bool = False, **options: object) -> Plan:
    return plan_command.run_plan(
        load_policies([workdir / "policies" / "svc.yaml"]),
        inventory=Registry(REGION),
        usage=collector(),
        now=NOW,
        columns=columns,
        processes=processes,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("held", [True, False])
@pytest.mark.parametrize("name", ["plan.json", "plan.json.gz"])
def test_the_plan_file_is_the_same_bytes_in_one_two_or_three_processes(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, held: bool
) -> None:
    _registry(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)
    _plan(tmp_path, 1)  # reading an index is a pull: from now on each index has been pulled, at NOW - 5 min
    if not held:  # the plan's actions are read from the spool, not held in memory
        monkeypatch.setattr(planbuilder, "ACTIONS_IN_MEMORY", 10)
    seen: list[PlanProgress] = []
    files = {}
    for processes in (1, 2, 3):
        made = _plan(tmp_path, processes, columns=name.endswith(".gz"), progress=seen.append)
        assert isinstance(made.actions, Spooled) is not held
        files[processes] = tmp_path / f"{processes}-{name}"
        write_plan_file(made, files[processes])
        assert load_plan_file(files[processes]) == made  # what the views saw is what the file holds
        assert seen[-1] == PlanProgress(phase=PlanPhase.ASSEMBLE, total=11, repositories=11, images=1222)
    assert files[1].read_bytes() == files[2].read_bytes() == files[3].read_bytes()
    plan = load_plan_file(files[1])
    assert plan.repository_deletions == ("svc/r0", "svc/r1")
    assert len(plan.protected) == 2
    assert not _workers()


def test_a_source_failing_in_a_worker_stops_the_plan_as_in_one_process(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _registry(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)
    sandbox.knobs.denied.add("DescribeImages")  # IAM refuses the scan (not the listing, in this process)
    errors = []
    for processes in (1, 2):
        with pytest.raises(EcrgcError) as raised:
            _plan(tmp_path, processes)
        errors.append(raised.value)
    assert type(errors[0]) is type(errors[1])
    # which repository fails first is a race, in one process as in two
    messages = {re.sub(r" of \S+ failed", " of REPOSITORY failed", str(error)) for error in errors}
    assert messages == {"ecr DescribeImages of REPOSITORY failed: AccessDeniedException"}
    assert not _workers()


@dataclass(frozen=True)
class _ScansHereOnly:
    """A `planworkers.Scanner` that reads every repository in the test's own process and fails to read any
    in a worker's, as a registry refusing one process's credentials would."""

    parent: int
    workers: int = 2

    def scan(self, names: Iterable[str], *, workers: int | None = None) -> Iterator[Repository]:
        for name in names:
            if os.getpid() != self.parent:
                raise SourceUnavailable(f"ecr DescribeImages of {name} failed: AccessDeniedException")
            time.sleep(0.02)  # so that the worker is handed names while this process scans
            yield Repository(name=name, uri="", registry_id="", images=())


def _repository_name(repository: Repository, spool: Spool) -> str:
    return repository.name


def test_an_error_in_a_worker_comes_back_as_it_is_and_stops_the_plan() -> None:
    """Only the worker fails here, so the message the main process raises can only be the worker's."""
    names = [f"svc/r{n:02}" for n in range(20)]
    here: list[str] = []
    with (
        pytest.raises(SourceUnavailable) as raised,
        planworkers.Workers(1, _ScansHereOnly(os.getpid()), columns=False) as workers,
    ):
        workers.plan(names, _repository_name, lambda r: here.append(r.name), lambda *_: None)
    assert type(raised.value) is SourceUnavailable  # not WorkerDied: the worker said why
    assert re.fullmatch(r"ecr DescribeImages of svc/r\d\d failed: AccessDeniedException", str(raised.value))
    assert str(raised.value).split()[3] not in here  # a repository this process did not read
    assert not _workers()


def test_a_worker_killed_stops_the_plan_and_no_worker_is_left(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _registry(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)
    sandbox.knobs.latency_ms = 50  # so that the workers are still scanning when one is killed
    killed: list[int] = []

    def kill_one(progress: PlanProgress) -> None:
        workers = sorted(_workers())
        if progress.phase is PlanPhase.SCAN and not killed and workers:
            killed.append(workers[0])
            os.kill(workers[0], signal.SIGKILL)

    with pytest.raises(planworkers.WorkerDied, match=r"was killed by signal 9 .* nothing was written"):
        _plan(tmp_path, 3, progress=kill_one)
    assert killed
    assert not _workers()


def test_ecrgc_chooses_one_process_for_a_small_registry_and_one_per_cpu_for_a_large_one() -> None:
    cpus, each = planworkers.usable_cpus(), planworkers.REPOSITORIES_PER_PROCESS
    assert planworkers.process_count(None, 200) == 1  # the 100k bench's registry: a worker does not pay
    assert planworkers.process_count(None, 2 * each - 1) == 1
    assert planworkers.process_count(None, 100_000) == cpus
    assert planworkers.process_count(None, each * 2) == min(cpus, 2)
    assert planworkers.process_count(3, 2) == 2  # asked for: never more than the repositories
    assert planworkers.process_count(1, 100_000) == 1


def test_ctrl_c_in_the_main_process_stops_every_worker(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _registry(sandbox, tmp_path)
    monkeypatch.chdir(tmp_path)
    sandbox.knobs.latency_ms = 50

    def interrupt(progress: PlanProgress) -> None:
        if progress.phase is PlanPhase.SCAN and progress.repositories:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _plan(tmp_path, 3, progress=interrupt)
    assert not _workers()


@pytest.mark.e2e
def test_the_installed_cli_plans_the_same_in_two_processes(sandbox: Sandbox, tmp_path: Path) -> None:
    """The console script as the main module."""
    _registry(sandbox, tmp_path)
    _plan(tmp_path, 1)  # each index pulled once already, as above
    for processes in ("1", "2"):
        result = run_ecrgc(
            sandbox, tmp_path, "plan", "policies", "--out", f"{processes}.json.gz", "--processes", processes
        )
        assert result.returncode == 0, result.stderr
    one, two = (load_plan_file(tmp_path / f"{n}.json.gz") for n in ("1", "2"))
    assert list(one.actions) == list(two.actions)
    assert one.summary == two.summary
    assert one.protected == two.protected
    assert len(one.kept) == len(two.kept) > 0


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _workers(pid: int | None = None) -> set[int]:
    """The plan worker processes of `pid` (default: this process), running or not yet reaped."""
    found = set()
    for child in _children(os.getpid() if pid is None else pid):
        try:
            if "planworkers" in (Path("/proc") / str(child) / "cmdline").read_text():
                found.add(child)
        except OSError:  # reaped meanwhile
            continue
    return found


def _running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.e2e
def test_workers_stop_when_the_plan_process_is_killed(sandbox: Sandbox, tmp_path: Path) -> None:
    """SIGKILL leaves the main process no time to stop its workers: each finds its pipe closed."""
    _registry(sandbox, tmp_path)
    sandbox.knobs.latency_ms = 1000  # svc/api's pages alone take seconds
    env = {**os.environ, **sandbox.environ()}
    plan = subprocess.Popen(
        [ECRGC, "plan", "policies", "--processes", "3"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = _workers(plan.pid)
        time.sleep(0.05)
    assert len(workers) >= 2
    time.sleep(1)  # into the scan
    assert plan.poll() is None
    plan.kill()
    plan.wait()
    while any(map(_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, workers))
