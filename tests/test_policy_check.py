"""A policy is validated by the compiled check (planfile/recordcheck.py), jsonschema only naming the errors
of a bad one: the check must say valid exactly when jsonschema does, on every example policy and on any
edit of one (a value replaced by anything JSON or YAML can hold, a key dropped or added, an item repeated).
"""

from __future__ import annotations

import copy
import datetime
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ecrgc.planfile.recordcheck import compile_check, inline
from ecrgc.policy import load_policy_text
from ecrgc.schemafiles import load_schema
from ecrgc.yamlfile import YamlProblem, read_yaml
from tests.test_planfile import json_values

EXAMPLES = sorted((Path(__file__).parent / "data" / "policies").glob("*/*.y*ml"))
_SCHEMA = load_schema("policy.schema.json")
_JSONSCHEMA = jsonschema.Draft202012Validator(_SCHEMA)
_CHECK = compile_check(inline(_SCHEMA))


def _documents() -> list[Any]:
    found = []
    for path in EXAMPLES:
        try:
            found.append(read_yaml(path.read_text(encoding="utf-8")).value)
        except YamlProblem:
            continue  # a file that is no policy's YAML never reaches the schema
    return found


DOCUMENTS = _documents()
_EDGES = st.sampled_from(
    [None, True, False, 0, 1, 1.0, -1, 2.5, float("nan"), float("inf"), "", "x", "7d", "30d", "0s", "^v",
     "(", "current", "in-cluster", [], [1], [True], ["x"], ["x", "x"], ["^a", "^b"], [{}], {}, {"path": "x"},
     {"name": "x"}, datetime.date(2026, 1, 1)]
)  # fmt: skip


def _nodes(value: Any) -> list[Any]:
    """Every dict and list within `value` (itself included)."""
    found = [value] if isinstance(value, dict | list) else []
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        found.extend(_nodes(child))
    return found


@st.composite
def edited_policies(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(0, 3))):
        node = draw(st.sampled_from(_nodes(document) or [None]))
        if isinstance(node, dict):
            key = draw(st.sampled_from([*node, "extra", "inCluster", "contexts", "allowEmpty"]))
            if draw(st.booleans()):
                node[key] = copy.deepcopy(draw(_EDGES | json_values))
            else:
                node.pop(key, None)
        elif isinstance(node, list) and node:
            index = draw(st.integers(0, len(node) - 1))
            match draw(st.sampled_from(["replace", "repeat", "drop"])):
                case "replace":
                    node[index] = copy.deepcopy(draw(_EDGES | json_values))
                case "repeat":
                    node.append(copy.deepcopy(node[index]))
                case _:
                    del node[index]
    return document


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_compiled_check_agrees_with_jsonschema_on_every_example(document: Any) -> None:
    assert _CHECK(document) is _JSONSCHEMA.is_valid(document)


@settings(deadline=None, max_examples=600)
@given(edited_policies())
def test_the_compiled_check_agrees_with_jsonschema_on_any_edit(document: Any) -> None:
    expected = _JSONSCHEMA.is_valid(document)
    event(f"valid={expected}")
    compiled = _CHECK(document)
    assert compiled is expected or (not compiled and not _plain(document))


_KEYWORDS = [
    {"type": "array", "minItems": 2},
    {"type": "array", "uniqueItems": True},
    {"uniqueItems": False},
    {"const": True},
    {"const": None},
    {"const": "x"},
    {"if": {"type": "string"}, "then": {"minLength": 2}, "else": {"type": "integer"}},
    {"if": {"type": "string"}, "then": {"minLength": 2}},
    {"if": {"type": "string"}, "else": {"type": "integer"}},
    {"$defs": {"s": {"type": "string"}}, "items": {"$ref": "#/$defs/s", "minLength": 1}},
    {"allOf": [{"type": "array"}, {"minItems": 1}]},
]


@settings(deadline=None, max_examples=400)
@given(st.sampled_from(_KEYWORDS), _EDGES | json_values | st.lists(_EDGES | json_values, max_size=4))
def test_the_keywords_a_policy_uses_agree_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    """Where the check cannot decide (the uniqueness of a NaN or a date) it says no: jsonschema decides."""
    compiled, expected = (
        compile_check(inline(schema))(value),
        jsonschema.Draft202012Validator(schema).is_valid(value),
    )
    assert compiled is expected or (not compiled and "uniqueItems" in schema and not _plain(value))


def _plain(value: Any) -> bool:
    """JSON values whose equality the check decides: no NaN or infinity, no YAML date."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(map(_plain, value))
    if isinstance(value, dict):
        return all(map(_plain, value.values()))
    return value is None or isinstance(value, bool | int | str)


def test_a_valid_policy_does_not_need_jsonschema(tmp_path: Path) -> None:
    """jsonschema (0.1 s to import) is loaded for a bad policy's messages only."""
    path = sorted((Path(__file__).parent / "data" / "policies" / "valid").glob("*.y*ml"))[0]
    probe = (
        "import sys; from ecrgc.policy import load_policy_text; "
        f"load_policy_text(open({str(path)!r}).read(), 'p.yaml'); print('jsonschema' in sys.modules)"
    )
    import subprocess
    import sys

    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
    assert load_policy_text(path.read_text(encoding="utf-8"), path.name).source == path.name
