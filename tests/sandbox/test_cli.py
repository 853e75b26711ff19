"""The sandbox from the outside: the AWS CLI, and `ecrgc sandbox` as a process and as a command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from ecrgc.commands import sandbox as sandbox_command
from ecrgc.errors import UsageError
from ecrgc.sandbox import Knobs, Sandbox

DATA = Path(__file__).parents[1] / "data" / "sandbox"


def _aws() -> str:
    """The venv's `aws` (awscli is a dev extra), else the system's."""
    beside = Path(sys.executable).with_name("aws")
    found = str(beside) if beside.exists() else shutil.which("aws")
    assert found, "the AWS CLI is a dev dependency: pip install -e '.[dev]'"
    return found


def test_aws_cli_drives_the_sandbox(sandbox: Sandbox) -> None:
    digest = sandbox.registry.push_image("team/app", tags=["v1"])
    env = {**os.environ, **sandbox.environ()}
    run = subprocess.run(
        [_aws(), "ecr", "describe-images", "--repository-name", "team/app", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    (detail,) = json.loads(run.stdout)["imageDetails"]
    assert (detail["imageDigest"], detail["imageTags"]) == (digest, ["v1"])
    who = subprocess.run(
        [_aws(), "sts", "get-caller-identity", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(who.stdout)["Account"] == "123456789012"


def test_ecrgc_sandbox_process_serves_and_stops_on_interrupt(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "ecrgc",
        "--log-dir",
        str(tmp_path),
        "sandbox",
        "--seed",
        str(DATA / "registry.yaml"),
    ]
    # Started with SIGINT ignored, as test-runner workers and some service managers start children:
    # Ctrl-C must still stop it.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
    )
    try:
        assert process.stdout is not None
        exports = dict(
            process.stdout.readline().removeprefix("export ").strip().split("=", 1) for _ in range(5)
        )
        assert set(exports) == {
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        }
        ecr = boto3.client(
            "ecr",
            endpoint_url=exports["AWS_ENDPOINT_URL"],
            region_name=exports["AWS_REGION"],
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        )
        names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
        assert names == ["shop/api", "shop/old"]
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "served 1 calls" in err


def test_run_sandbox_applies_the_options() -> None:
    options = sandbox_command.SandboxOptions(
        synthetic="3:30",
        throttles=("DescribeImages=5", "*=100"),
        latency_ms=2,
        subject_delete="cascade",
        pull_time_refresh_seconds=60,
    )
    seen: dict[str, object] = {}
    stop = threading.Event()

    def ready(running: Sandbox) -> None:
        seen["knobs"] = running.knobs
        seen["env"] = running.environ()
        stop.set()

    summary = sandbox_command.run_sandbox(options, ready=ready, until=stop)
    assert summary == sandbox_command.SandboxSummary(repositories=3, images=30, calls=0)
    knobs, env = seen["knobs"], seen["env"]
    assert isinstance(knobs, Knobs)
    assert isinstance(env, dict)
    assert set(knobs.throttles) == {"DescribeImages", "*"}
    assert (knobs.latency_ms, knobs.subject_delete, knobs.pull_time_refresh_seconds) == (2, "cascade", 60)
    lines = sandbox_command.export_lines(env)
    assert lines.startswith("export AWS_ENDPOINT_URL=http://127.0.0.1:")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"synthetic": "3"}, "--synthetic '3': expected N_REPOS:N_IMAGES"),
        ({"throttles": ("Describe=3",)}, "--throttle 'Describe=3': expected OPERATION=RATE"),
        ({"throttles": ("ListImages=fast",)}, "RATE must be a number"),
        ({"subject_delete": "explode"}, "--subject-delete"),
    ],
)
def test_bad_options_are_usage_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        sandbox_command.build_sandbox(sandbox_command.SandboxOptions(**options))  # type: ignore[arg-type]
