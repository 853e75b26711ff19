"""boto3 clients for the sandbox tests: real clients, configured only through the environment."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def ecr() -> Any:
    """An ECR client that does not retry, so every answer reaches the test."""
    return boto3.client("ecr", config=NO_RETRY)


def error_of(call: Any, **kwargs: Any) -> ClientError:
    """The ClientError a call raises."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value


def code_of(call: Any, **kwargs: Any) -> str:
    """The error code a call answers."""
    return str(error_of(call, **kwargs).response["Error"]["Code"])
