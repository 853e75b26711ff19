"""Shared test set-up. Fixture modules are owned by the code they serve; this file only wires them in."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# This machine (and CI's) is shared: a per-example deadline or the too-slow health check would measure the
# neighbours, not the code, and fail a property at random. The properties keep their example counts.
settings.register_profile("shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")

pytest_plugins: list[str] = ["tests.kube.fixtures", "tests.sandbox.fixtures"]


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """You forgot to fake it: any AWS call not pointed at a local server goes to a closed port and fails.

    Tests that use the sandbox or moto set AWS_ENDPOINT_URL themselves (their fixture runs after this one).
    """
    for name in list(os.environ):
        if name.startswith(("AWS_", "GITHUB_")) or name in ("KUBECONFIG", "NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("KUBECONFIG", os.devnull)
    monkeypatch.setenv("LOGDIR", str(tmp_path_factory.mktemp("logs")))
    monkeypatch.delenv("DEBUG", raising=False)
