"""Fixtures for apply's tests: an in-process ECR sandbox reached by real boto3 through AWS_ENDPOINT_URL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecrgc.sandbox import Sandbox
from tests.apply.world import ACCOUNT, NOW, REGION


@pytest.fixture
def ecr(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A fresh sandbox with its clock frozen at NOW, and boto3 pointed at it."""
    with Sandbox(account=ACCOUNT, region=REGION) as sandbox:
        sandbox.clock.set(NOW)
        for name, value in sandbox.environ().items():
            monkeypatch.setenv(name, value)
        yield sandbox
