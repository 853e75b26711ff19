"""Fixtures for the ECR adapter's tests: a real moto server, reached only through AWS_ENDPOINT_URL."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the session; its endpoint URL."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty moto state, and boto3 pointed at it; returns the endpoint URL."""
    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")  # noqa: S310 - our own URL
    with urllib.request.urlopen(reset) as reply:  # noqa: S310 - a local http URL we built
        assert reply.status == 200
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server
