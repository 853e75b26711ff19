"""Fixtures of the ECR sandbox, registered in tests/conftest.py: `sandbox` and `moto_server`."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ecrgc.sandbox import Sandbox


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A fresh in-process sandbox on a free port, with boto3's environment pointed at it."""
    with Sandbox(account="123456789012", region="ap-northeast-1") as running:
        for name, value in running.environ().items():
            monkeypatch.setenv(name, value)
        yield running


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the session (reset it per test); its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
