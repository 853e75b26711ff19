"""A plan file that is exactly what ecrgc writes is read once by msgspec, its hash verified as its text
is compared with the document written again (`decode.parse_written`); any other text goes through the
parse that refuses duplicate keys. These texts are edited by hand, around our writer's bytes: the keys
given twice are placed so that a reader keeping the last one sees the hashed document."""

from __future__ import annotations

import io
import json

import pytest

from ecrgc import planfile
from ecrgc.errors import PlanRefused
from ecrgc.planfile import decode, writing
from tests.test_planfile import small_plan


@pytest.mark.parametrize("columns", [False, True], ids=["records", "columns"])
def test_our_own_text_is_read_once_as_json_reads_it(columns: bool) -> None:
    text = planfile.dumps(small_plan(), columns=columns)
    written = decode.parse_written(text.encode("utf-8"))
    assert written is not None
    document, sha256 = written
    assert document == json.loads(text)
    assert sha256 == document["content_sha256"] == planfile.loads(text).sha256
    assert planfile.loads(text) == small_plan()


@pytest.mark.parametrize("columns", [False, True], ids=["records", "columns"])
def test_a_re_indented_plan_is_not_our_text_but_loads_as_the_same_plan(columns: bool) -> None:
    text = planfile.dumps(small_plan(), columns=columns)
    reindented = json.dumps(json.loads(text), indent=4)
    assert decode.parse_written(reindented.encode("utf-8")) is None
    assert planfile.loads(reindented) == small_plan()
    assert planfile.loads(reindented).sha256 == planfile.loads(text).sha256


@pytest.mark.parametrize(
    ("columns", "key", "line"),
    [
        (False, "region", '"region": "eu-west-1"'),
        (False, "policy", '"policy":"default"'),  # inside an action's record
        (True, "region", '"region": "eu-west-1"'),
        (True, "policy", '"policy":"default"'),  # inside a repository's columns
    ],
    ids=["records-header", "records-record", "columns-header", "columns-repository"],
)
@pytest.mark.parametrize("hashed", ["last", "first"])
def test_a_key_given_twice_is_refused_whichever_copy_is_the_hashed_one(
    columns: bool, key: str, line: str, hashed: str
) -> None:
    """Last: a reader keeping the last value (json, msgspec) sees exactly the hashed document."""
    text = planfile.dumps(small_plan(), columns=columns)
    name, value = line.split(":", 1)
    other = f"{name}:{value.replace('eu-west-1', 'us-east-1').replace('default', 'loosened')}"
    doubled = text.replace(line, f"{other},{line}" if hashed == "last" else f"{line},{other}", 1)
    assert doubled != text
    doubled = _as_long_as(doubled, len(text))  # no length check alone tells them apart
    if hashed == "last":
        assert decode._PLAIN_JSON.decode(doubled.encode("utf-8")) == json.loads(text)
    assert decode.parse_written(doubled.encode("utf-8")) is None
    with pytest.raises(PlanRefused, match=rf"^plan: the key '{key}' appears twice in one object"):
        planfile.loads(doubled)
    with pytest.raises(PlanRefused, match=rf"the key '{key}' appears twice"):
        planfile.loads(doubled.encode("utf-8"))


def _as_long_as(text: str, length: int) -> str:
    """`text` with whitespace between the tokens of its pretty-printed header after the content hash
    dropped until it is `length` characters long (the same JSON, the hash where it was)."""
    hashed, rest = text.split('"created_at"', 1)
    head, summary, tail = rest.partition('"summary"')
    while len(hashed) + len(head) > length - len(summary) - len(tail) - len('"created_at"'):
        shorter = head.replace(": ", ":", 1)
        head = shorter if shorter != head else head.replace("\n  ", "\n", 1)
    edited = f'{hashed}"created_at"{head}{summary}{tail}'
    assert len(edited) == length
    return edited


def test_a_float_written_as_msgspec_writes_it_is_not_taken_for_our_text() -> None:
    """msgspec writes 1e16 where the hash recipe's json writes 1e+16: a record holding one, hashed as
    msgspec writes it, is not our text, and the recipe's hash refuses it."""
    document = json.loads(planfile.dumps(small_plan()))
    del document["content_sha256"]
    document["actions"][0]["sizeBytes"] = 1e16
    out = io.BytesIO()
    writing.write_document(document, out, ours=True)  # msgspec writes the records, and hashes them so
    text = out.getvalue()
    assert b'"sizeBytes":1e16' in text
    assert decode.parse_written(text) is None
    with pytest.raises(PlanRefused, match="content hash mismatch"):
        planfile.loads(text)
