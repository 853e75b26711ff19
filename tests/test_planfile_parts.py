"""`Parts`, the one sequence behind a loaded .json.gz plan's images (Rows) and a plan being made's
(Spooled): whatever the parts' lengths, it reads as the flat list of their images does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrgc.planfile.parts import Parts


class _Listed(Parts):
    def __init__(self, parts: list[list[int]]) -> None:
        self.parts, self.reads = parts, 0
        super().__init__(len(part) for part in parts)

    def _images(self, part: int, offset: int) -> Iterator[int]:  # type: ignore[override]
        for image in self.parts[part][offset:]:
            self.reads += 1
            yield image

    def _repository(self, part: int) -> str:
        return f"r{part}"


_parts = st.lists(st.lists(st.integers(), max_size=4), max_size=5)
_bound = st.none() | st.integers(-25, 25)


@given(_parts, st.integers(-25, 25))
def test_an_index_reads_as_the_flat_list_does(parts: list[list[int]], index: int) -> None:
    flat = [image for part in parts for image in part]
    view = _Listed(parts)
    assert len(view) == len(flat)
    if -len(flat) <= index < len(flat):
        assert view[index] == flat[index]
        assert view.reads == 1  # the image asked for, no other
    else:
        with pytest.raises(IndexError):
            view[index]


@given(_parts, _bound, _bound, st.none() | st.integers(-3, 3).filter(bool))
def test_a_slice_reads_as_the_flat_list_does(
    parts: list[list[int]], start: int | None, stop: int | None, step: int | None
) -> None:
    flat = [image for part in parts for image in part]
    view = _Listed(parts)
    assert list(view[start:stop:step]) == flat[start:stop:step]
    if step in (None, 1):
        assert view.reads == len(flat[start:stop])  # only the images returned are read


@given(_parts, _parts)
def test_iteration_and_equality_are_the_flat_lists(a: list[list[int]], b: list[list[int]]) -> None:
    flat_a, flat_b = [i for part in a for i in part], [i for part in b for i in part]
    assert list(_Listed(a)) == flat_a
    assert (_Listed(a) == _Listed(b)) == (flat_a == flat_b)
    assert (_Listed(a) == flat_b) == (flat_a == flat_b)
    assert _Listed(a) != object()


@given(_parts, st.integers(-1, 6))
def test_a_repository_reads_its_own_part_only(parts: list[list[int]], which: int) -> None:
    view = _Listed(parts)
    mine = parts[which] if 0 <= which < len(parts) else []
    assert list(view.of_repository(f"r{which}")) == mine  # type: ignore[comparison-overlap]
    assert view.reads == len(mine)
