"""AWS config files for the adapter's credential tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def use_credential_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, script: str, *, profile: str = "default"
) -> None:
    """The AWS config files hold one `profile` whose credentials come from `script` (Python source, run as
    botocore runs a `credential_process`), and the environment holds no other credentials."""
    process = tmp_path / "credentials.py"
    process.write_text(script)
    section = "default" if profile == "default" else f"profile {profile}"
    config = tmp_path / "config"
    config.write_text(f"[{section}]\ncredential_process = {sys.executable} {process}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
