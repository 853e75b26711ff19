"""The writer's records are encoded by msgspec: its bytes must be those of the hash recipe's json.dumps.

The oracle is json.dumps with the recipe's options (see ecrgc.planfile's docstring), never our own output;
the values are everything a record can hold: any text (tags, names, patterns, sources — control characters,
quotes, backslashes, U+2028, astral characters), integers of any size, booleans, None, arrays and UTC
timestamps.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.model import PlannedAction, ProtectedImage
from ecrgc.planfile import canonical, encode, format_timestamp, writing
from ecrgc.planfile.columns import document as columns_document
from tests.test_planfile import planned_images, properties, small_plan

_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)  # a surrogate is no UTF-8 at all
_scalars = st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70) | _text
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_text, inner, max_size=4)
    ),
    max_leaves=12,
)
_moments = st.datetimes(min_value=datetime(1, 1, 2), timezones=st.just(UTC))


def _recipe(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@properties
@given(st.dictionaries(_text, _values, max_size=6))
def test_msgspec_writes_a_record_as_the_recipe_does(record: dict[str, Any]) -> None:
    assert writing.writer_record(record) == _recipe(record)


@properties
@given(_moments)
def test_msgspec_writes_a_utc_timestamp_as_format_timestamp(moment: datetime) -> None:
    assert writing.writer_record({"pushedAt": moment}) == _recipe({"pushedAt": format_timestamp(moment)})


@properties
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 2),
        timezones=st.sampled_from([timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30))])
        | st.timezones(),
    )
)
def test_a_timestamp_of_another_zone_is_handed_over_as_text(moment: datetime) -> None:
    assert writing.writer_record(encode.timestamp(moment)) == _recipe(format_timestamp(moment))


def test_the_records_declare_their_fields_in_the_files_key_order() -> None:
    # `writing.struct_lines` writes them in that order, unsorted: the file's keys are sorted.
    for record in (encode.ActionRecord, encode.KeptRecord):
        names = [field.encode_name for field in msgspec.structs.fields(record)]
        assert names == sorted(names), record


def test_a_surrogate_is_refused_by_both() -> None:
    for write in (writing.writer_record, _recipe):
        try:
            write({"imageTags": ["\ud800"]})
        except UnicodeEncodeError:
            continue
        raise AssertionError(f"{write} wrote a lone surrogate")


@properties
@given(planned_images(), st.booleans())
def test_the_file_is_the_same_whoever_encodes_its_records(
    images: tuple[tuple[PlannedAction, ...], tuple[PlannedAction, ...], tuple[ProtectedImage, ...]],
    columns: bool,
) -> None:
    actions, kept, protected = images
    plan = canonical(replace(small_plan(), actions=actions, kept=kept, protected=protected))

    out = io.BytesIO()
    document = columns_document(plan) if columns else encode.document(plan)
    sha256 = writing.write_document(document, out, ours=True)
    # The oracle: json writing the same values, read back from the file (timestamps then are text).
    parsed = json.loads(out.getvalue())
    del parsed["content_sha256"]
    again = io.BytesIO()
    assert writing.write_document(parsed, again) == sha256
    assert again.getvalue() == out.getvalue()
