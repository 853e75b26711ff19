"""Fixtures for the ECR adapter's tests. The servers come from tests/sandbox/fixtures.py (`sandbox`,
`moto_server`); this adds a fresh moto state per test, reached only through AWS_ENDPOINT_URL."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty moto state, and boto3 pointed at it; returns the endpoint URL."""
    _moto_api(moto_server, "reset")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


@pytest.fixture
def moto_checking_credentials(moto: str) -> Iterator[str]:
    """moto that rejects unknown access keys (its documented reset-auth switch), for this test only."""
    _moto_api(moto, "reset-auth", b"0")
    try:
        yield moto
    finally:
        _moto_api(moto, "reset-auth", b"inf")


def _moto_api(endpoint: str, action: str, body: bytes = b"") -> None:
    url = f"{endpoint}/moto-api/{action}"
    # text/plain: werkzeug would swallow a form-encoded body and moto read an empty count
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})  # noqa: S310
    with urllib.request.urlopen(request) as reply:  # noqa: S310 - a local http URL we built
        assert reply.status == 200
