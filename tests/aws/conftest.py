"""Fixtures for the ECR adapter's tests. The servers come from tests/sandbox/fixtures.py (`sandbox`,
`moto_server`); this adds a fresh moto state per test, reached only through AWS_ENDPOINT_URL."""

from __future__ import annotations

import urllib.request

import pytest


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty moto state, and boto3 pointed at it; returns the endpoint URL."""
    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")  # noqa: S310 - our own URL
    with urllib.request.urlopen(reset) as reply:  # noqa: S310 - a local http URL we built
        assert reply.status == 200
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server
