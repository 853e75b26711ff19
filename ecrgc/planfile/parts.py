"""A plan's images held as parts, one per repository, each image built only when it is read.

A loaded `.json.gz` plan keeps its columns (columns.Rows) and a plan being made keeps its records in a
scratch file (spool.Spooled): both are sequences of PlannedAction that know only how long each part is
and how to read a part from an offset on. Indexing finds the part by bisection; slicing and iterating
read part after part, so no view builds the records it does not return.
"""

from __future__ import annotations

import bisect
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import overload

from ecrgc.model import PlannedAction


class Parts(Sequence[PlannedAction]):
    """The images of parts of `lengths` images each, in order; a subclass reads a part (`_images`)."""

    def __init__(self, lengths: Iterable[int]) -> None:
        self._starts: list[int] = []
        total = 0
        for length in lengths:
            self._starts.append(total)
            total += length
        self._len = total
        self._parts_of: dict[str, list[int]] | None = None

    @abstractmethod
    def _images(self, part: int, offset: int) -> Iterator[PlannedAction]:
        """The images of part number `part`, from its `offset`-th on."""

    @abstractmethod
    def _repository(self, part: int) -> str:
        """The repository of part number `part` (each part is one repository's)."""

    def of_repository(self, name: str) -> Iterator[PlannedAction]:
        """The images of repository `name` (none if it has none), without reading the other parts."""
        if self._parts_of is None:
            self._parts_of = {}
            for part in range(len(self._starts)):
                self._parts_of.setdefault(self._repository(part), []).append(part)
        for part in self._parts_of.get(name, ()):
            yield from self._images(part, 0)

    def repositories(self) -> set[str]:
        """The repositories of these images, without reading any."""
        return {self._repository(part) for part in range(len(self._starts))}

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> PlannedAction: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[PlannedAction]: ...
    def __getitem__(self, index: int | slice) -> PlannedAction | Sequence[PlannedAction]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._len)
            if step != 1:
                return list(self)[index]
            return list(islice(self._from(start), max(0, stop - start)))
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError(index)
        return next(self._from(index))

    def _from(self, index: int) -> Iterator[PlannedAction]:
        if index >= self._len:
            return
        part = bisect.bisect_right(self._starts, index) - 1
        yield from self._images(part, index - self._starts[part])
        for later in range(part + 1, len(self._starts)):
            yield from self._images(later, 0)

    def __iter__(self) -> Iterator[PlannedAction]:
        return self._from(0)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Sequence)
            and len(other) == self._len
            and all(a == b for a, b in zip(self, other, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]  # equal to any equal sequence, as a list is
