"""The JSON Schemas ecrgc ships: `schemas/` in a checkout, `ecrgc/schemas/` inside the wheel."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent
# The wheel force-includes schemas/ as ecrgc/schemas/ (pyproject.toml); an editable install has the checkout.
_CANDIDATES = (_PACKAGE / "schemas", _PACKAGE.parent / "schemas")


def schema_path(name: str) -> Path:
    """Where the schema file `name` (e.g. 'policy.schema.json') lives in this installation."""
    for directory in _CANDIDATES:
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"schema {name} is missing from {_CANDIDATES[0]} and {_CANDIDATES[1]}")


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The parsed schema `name`, read once per process."""
    schema: dict[str, Any] = json.loads(schema_path(name).read_text(encoding="utf-8"))
    return schema
