"""Golden files: compare rendered text with a committed file; ECRGC_UPDATE_GOLDEN=1 rewrites it instead."""

from __future__ import annotations

import os
from pathlib import Path


def assert_golden(path: Path, text: str) -> None:
    """Assert that `path` holds exactly `text` (or write it, under ECRGC_UPDATE_GOLDEN=1, for review)."""
    if os.environ.get("ECRGC_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"{path} is missing: run with ECRGC_UPDATE_GOLDEN=1 and review the diff"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed: ECRGC_UPDATE_GOLDEN=1 updates it"
