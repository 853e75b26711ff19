"""kill -9 of a multi-thousand-image `ecrgc apply` at several moments: the audit trail survives.

Apply writes each BatchDeleteImage call's outcomes to the report, flushed, before it sends the next call, so
after a kill the report lists every deletion but those of the calls in flight (at most one per worker);
`ecrgc show` reads it as incomplete; applying the same plan again completes the registry.

Deterministic: the kill comes when the sandbox has received a given number of BatchDeleteImage calls (not
after a guessed sleep), and the sandbox's latency on that call holds each call in flight long enough to
be sure the client is still waiting for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecrgc.apply.report import load_report_file
from ecrgc.model import OutcomeStatus
from ecrgc.planfile import load_plan_file
from ecrgc.sandbox import Sandbox
from tests.apply.world import OLD, images, make_plan, write_policy

ECRGC = Path(sys.executable).parent / "ecrgc"
WORKERS = 2
LATENCY_S = 0.3
BATCH = 100


def _registry(sandbox: Sandbox, repositories: int, per_repository: int) -> None:
    for r in range(repositories):
        for n in range(per_repository):
            sandbox.registry.push_image(f"app/r{r}", tags=[f"b{n}"], pushed_at=OLD.timestamp() + n)


@pytest.mark.e2e
@pytest.mark.parametrize("calls_before_kill", [1, 9, 18])
def test_kill_9_leaves_a_report_missing_only_the_calls_in_flight(
    ecr: Sandbox, tmp_path: Path, calls_before_kill: int
) -> None:
    _registry(ecr, repositories=4, per_repository=501)  # 2,004 images: 5 calls of 100 per repository
    plan = make_plan(tmp_path, write_policy(tmp_path, image_list=None))
    planned = {(a.repository, a.digest) for a in load_plan_file(plan).actions}
    before = images(ecr)
    ecr.calls.reset()
    ecr.knobs.latency_ms_by_operation["BatchDeleteImage"] = LATENCY_S * 1000
    env = {**os.environ, "LOGDIR": str(tmp_path / "logs")}
    command = [str(ECRGC), "apply", str(plan), "--auto-approve", "--workers", str(WORKERS)]
    command += ["--policies", str(tmp_path), "--report", str(tmp_path / "report.jsonl")]

    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while ecr.calls["BatchDeleteImage"] < calls_before_kill and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    received = ecr.calls["BatchDeleteImage"]
    expected = min(received * BATCH, len(planned))
    # A call the server received still completes after the client died (as ECR): wait for those calls to
    # finish, however busy the machine (a fixed sleep measured the neighbours), then count what they did.
    settle_by = time.monotonic() + 60
    while len(before - images(ecr)) < expected and time.monotonic() < settle_by:
        time.sleep(0.05)
    ecr.knobs.latency_ms_by_operation.clear()
    deleted = before - images(ecr)

    assert process.returncode == -signal.SIGKILL
    assert deleted <= planned
    assert 0 < len(deleted) == expected
    report = load_report_file(tmp_path / "report.jsonl")
    reported = {(o.repository, o.digest) for o in report.outcomes if o.status is OutcomeStatus.DELETED}
    assert not report.complete
    assert reported <= deleted  # nothing reported that did not happen ...
    assert len(deleted - reported) <= WORKERS * BATCH  # ... and everything but the calls in flight
    shown = subprocess.run(
        [str(ECRGC), "show", str(tmp_path / "report.jsonl")], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "INCOMPLETE: the apply did not finish" in shown.stdout

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    assert resumed.returncode == 0, resumed.stderr
    assert images(ecr) == before - planned
    counts = load_report_file(tmp_path / "report.jsonl").counts()
    assert counts[OutcomeStatus.ALREADY_ABSENT] == len(deleted)
    assert counts[OutcomeStatus.DELETED] == len(planned) - len(deleted)
