"""JSON Schema errors → (JSON path, message) pairs a policy author can act on.

jsonschema's own messages are kept where they already say what to do; the rest are rewritten: a regex
pattern is replaced by the schema's `title` ("a duration …"), and a type error quotes what the YAML said
(`1.10`, not Python's `1.1`), because an unquoted version tag is the classic way to break a policy.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from ecrgc.yamlfile import JsonPath

if TYPE_CHECKING:
    import jsonschema

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "empty",
}
# bool before int: True is an int to Python, a boolean to a YAML author.
_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
    (str, "a string"),
    (date, "a date"),
    (dict, "a mapping"),
    (list, "a list"),
)


def problem_order(problem: tuple[JsonPath, str]) -> tuple[tuple[tuple[int, str | int], ...], str]:
    """Sorts (JSON path, message) pairs by path (list indexes before keys), then by message."""
    path, message = problem
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in path), message


def schema_problem(
    error: jsonschema.ValidationError, typed_scalars: Mapping[JsonPath, str]
) -> tuple[JsonPath, str]:
    """The path of one schema error and a message naming the fix."""
    path: JsonPath = tuple(error.absolute_path)
    instance: Any = error.instance
    expected: Any = error.validator_value
    schema = error.schema
    assert isinstance(schema, Mapping)
    match error.validator:
        case "type":
            message = _type_message(instance, expected, typed_scalars.get(path), schema)
        case "pattern" if "title" in schema:
            message = f"{instance!r} is not {schema['title']}"
        case "additionalProperties":
            unknown = ", ".join(repr(key) for key in sorted(set(instance) - set(schema["properties"])))
            message = f"unknown key {unknown}: the keys allowed here are {', '.join(schema['properties'])}"
        case "uniqueItems":
            counts = Counter(map(_shown, instance))
            message = (
                f"{', '.join(item for item, count in counts.items() if count > 1)} listed more than once"
            )
            message += ": keep one"
        case "minItems":
            message = "is empty: list at least one"
        case "minLength":
            message = "is empty: write a non-empty string"
        case _:
            message = error.message
    return path, message


def _type_message(
    instance: Any, expected: str | list[str], raw: str | None, schema: Mapping[str, Any]
) -> str:
    names = [expected] if isinstance(expected, str) else expected
    wanted = schema.get("title") or " or ".join(_TYPE_NAMES[name] for name in names)
    if instance is None:
        return f"is empty: expected {wanted}"
    kind = _kind(instance)
    if isinstance(instance, dict | list):
        return f"is {kind}, not {wanted}"
    if raw is None:
        return f"{instance!r} is {kind}, not {wanted}"
    message = f"{raw} is {kind}, not {wanted}"
    if "string" in names and "title" not in schema:
        quoted = "'" + raw.replace("'", "''") + "'"
        message += f": quote it ({quoted})"
    return message


def _shown(item: Any) -> str:
    """An item as an error quotes it: strings as Python does (like jsonschema), the rest as JSON."""
    return repr(item) if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)


def _kind(instance: Any) -> str:
    return next((name for kind, name in _KINDS if isinstance(instance, kind)), "an unsupported YAML value")
