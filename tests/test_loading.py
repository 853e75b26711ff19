"""Loading a plan quickly: the compiled checks of the summary agree with jsonschema, and a loaded plan's
checks still refuse what they refused."""

from __future__ import annotations

import copy
import gc
import hashlib
import json
from typing import Any

import jsonschema
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ecrgc import planfile
from ecrgc.errors import ConfigError
from ecrgc.planfile import decode, evidence
from ecrgc.planfile.recordcheck import compile_check
from tests.test_planfile import json_values, small_plan

_SUMMARY_SCHEMA = decode._inlined_schema()["properties"]["summary"]
_VALID_SUMMARY = json.loads(planfile.dumps(small_plan()))["summary"]
_EDGES = st.sampled_from(
    [None, True, 0, -1, 1, 2.0, 2.5, "", "0.10", "0.1", "x", [], {}, {"in_use": 1}, {"in_use": -1},
     {"expired": 1}, {"newest_n": True}, {"held_tag": 2.0}]
)  # fmt: skip


def _mutate(draw: st.DrawFn, target: dict[str, Any], *unknown: str) -> None:
    """Set one of `target`'s fields (or one of the `unknown` ones) to an edge value, or drop it."""
    field = draw(st.sampled_from([*target, *unknown]))
    if draw(st.booleans()):
        target[field] = copy.deepcopy(draw(_EDGES | json_values))
    else:
        target.pop(field, None)


@st.composite
def mutated_summaries(draw: st.DrawFn) -> object:
    """The small plan's summary with a few of its values (or of one repository's) replaced or removed."""
    summary = json.loads(json.dumps(_VALID_SUMMARY))
    for _ in range(draw(st.integers(0, 2))):
        repositories = summary.get("repositories")
        entries = [r for r in repositories if isinstance(r, dict)] if isinstance(repositories, list) else []
        target = draw(st.sampled_from(entries)) if entries and draw(st.booleans()) else summary
        _mutate(draw, target, "extra")
    return summary


@settings(deadline=None, max_examples=400)
@given(mutated_summaries())
def test_the_compiled_summary_check_agrees_with_jsonschema(summary: object) -> None:
    expected = jsonschema.Draft202012Validator(_SUMMARY_SCHEMA).is_valid(summary)
    event(f"valid={expected}")
    assert compile_check(_SUMMARY_SCHEMA)(summary) is expected


@settings(deadline=None, max_examples=200)
@given(st.dictionaries(st.text(max_size=3) | st.sampled_from(["a", "b"]), json_values, max_size=4))
def test_property_names_agree_with_jsonschema(value: dict[str, object]) -> None:
    schema = {"type": "object", "propertyNames": {"enum": ["a", "b"]}}
    assert compile_check(schema)(value) is jsonschema.Draft202012Validator(schema).is_valid(value)


_CELLS = st.lists(
    st.sampled_from([*evidence.KINDS, "other"]) | _EDGES | json_values, min_size=0, max_size=5
) | st.builds(
    lambda kind, rest: [kind, *rest], st.sampled_from(list(evidence.KINDS)), st.lists(_EDGES, max_size=4)
)


@settings(deadline=None, max_examples=500)
@given(_CELLS, st.sampled_from([None, "sha256:" + "a" * 64]), st.sampled_from([[], ["list.txt:1"]]))
def test_a_plainly_valid_evidence_cell_decodes_whatever_the_record(
    cell: list[object], parent: str | None, sources: list[str]
) -> None:
    """The load skips decoding the cells `plainly_valid` vouches for: `decode` must accept each of them."""
    event(f"plainly valid={evidence.plainly_valid(cell)}")
    if evidence.plainly_valid(cell):
        assert evidence.decode(cell, {"parent": parent, "sources": sources}, "$.x") is not None


@settings(deadline=None, max_examples=300)
@given(
    st.lists(
        _CELLS | st.sampled_from([["ages", 1, None], ["newest", 1, 2, 3], ["ages", 1, 2, 3]]), max_size=8
    )
)
def test_the_cells_found_not_plain_together_are_those_found_one_by_one(cells: list[object]) -> None:
    """`not_plain` checks a column's cells of each plain kind in one msgspec call: the same answer."""
    expected = [n for n, cell in enumerate(cells) if not evidence.plainly_valid(cell)]
    event(f"not plain: {bool(expected)}")
    assert evidence.not_plain(cells) == expected


_ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=6) | st.sampled_from(
    ['\x00\x1f\x7f"\\', "\u2028é😀"]
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**80), 2**80)
    | _ANY_TEXT
    | _ANY_TEXT
    | st.floats(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_ANY_TEXT, inner, max_size=3),
    max_leaves=10,
)


@settings(deadline=None, max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["actions", "kept", "columns", "policies"]) | _ANY_TEXT,
        st.lists(_JSON, max_size=4) | _JSON,
        max_size=5,
    ),
    st.none() | st.dictionaries(st.just("repositories") | _ANY_TEXT, st.lists(_JSON, max_size=3) | _JSON),
)
def test_the_content_hash_of_a_parsed_document_is_the_recipes(
    document: dict[str, object], summary: dict[str, object] | None
) -> None:
    """msgspec's bytes where they are json's (a document holding a float is hashed by json itself), the
    image lists (and the summary's repositories) included."""
    if summary is not None:
        document["summary"] = summary
    parsed = decode.parse(json.dumps({**document, "content_sha256": ""}), "p.json")
    del parsed["content_sha256"]
    compact = json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    event(f"holds a float: {_holds_float(parsed)}")
    assert decode.content_sha256(parsed) == hashlib.sha256(compact.encode("utf-8")).hexdigest()


def _holds_float(value: object) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, float) or (isinstance(value, list) and any(map(_holds_float, value)))


_DOCUMENTS = {
    "records": json.loads(planfile.dumps(small_plan())),
    "columns": json.loads(planfile.dumps(small_plan(), columns=True)),
}


@st.composite
def mutated_documents(draw: st.DrawFn) -> object:
    """A small plan's document (either layout) with a few top-level or nested values replaced or removed."""
    document = json.loads(json.dumps(_DOCUMENTS[draw(st.sampled_from(sorted(_DOCUMENTS)))]))
    for _ in range(draw(st.integers(0, 2))):
        target = document
        while isinstance(target, dict) and target and draw(st.booleans()):
            inner = target[draw(st.sampled_from(sorted(target)))]
            target = inner[0] if isinstance(inner, list) and inner and draw(st.booleans()) else inner
        if not isinstance(target, dict):
            continue
        _mutate(draw, target, "extra", "columns", "actions")
    return document


@settings(deadline=None, max_examples=400)
@given(mutated_documents())
def test_the_compiled_plan_check_agrees_with_jsonschema(document: object) -> None:
    """The whole schema compiled (oneOf, $refs beside descriptions inlined): jsonschema only names errors."""
    expected = jsonschema.Draft202012Validator(decode._inlined_schema()).is_valid(document)
    event(f"valid={expected}")
    assert decode._compiled_check()(document) is expected


def test_the_collector_is_paused_while_a_plan_loads_and_left_as_it_was() -> None:
    seen: list[bool] = []
    assert gc.isenabled()
    with decode.collector_paused():
        seen.append(gc.isenabled())
    assert seen == [False]
    assert gc.isenabled()
    with pytest.raises(ConfigError):  # a refused plan too
        planfile.loads("{}", source="p.json")
    assert gc.isenabled()
    gc.disable()
    try:
        with decode.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # disabled by its caller, it stays so
    finally:
        gc.enable()
