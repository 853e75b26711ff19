"""A kept image's evidence (`model.Evidence`) as plan-file data: `[kind, field, ...]`, in both layouts.

The fields are the evidence record's, in order (tuples as arrays, enums as their values), except those
the image's record already holds, which are not written twice: a `part_of`'s parent and a `maybe_child_of`'s
index are the record's `parent`; the sources of a `used_by` and of a `lists_in_use` (who uses the child it
lists) are the record's `sources`.
So `["newest", 2, 3, 3]` is #2 of the 3 newest kept (keepLatest 3), `["held_by", "^release-", ["release-1"],
false]`, `["ages", 86400, null]`. Words are written by `render/`, never stored: rewording a message does not
change a plan or its hash. Only kept images carry evidence in the file: a removed image's is its record
(`expired` by its pushedAt and lastPulledAt against created_at, `with_parent` by its parent), and 1,000,000
deletions could not afford the bytes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from itertools import compress, count, product, repeat
from operator import attrgetter
from typing import Any

import msgspec
from msgspec.structs import fields

from ecrgc.errors import ConfigError
from ecrgc.model import (
    Ages,
    Evidence,
    HeldBy,
    ImageStatus,
    ListsInUse,
    MaybeChildOf,
    Newest,
    PartOf,
    Relation,
    UsedBy,
)

KINDS: dict[str, type[Evidence]] = {
    "used_by": UsedBy,
    "lists_in_use": ListsInUse,
    "part_of": PartOf,
    "maybe_child_of": MaybeChildOf,
    "held_by": HeldBy,
    "newest": Newest,
    "ages": Ages,
}
_KIND_OF = {kind: name for name, kind in KINDS.items()}
# kind -> {field: the key of the image's record that holds it (not written in the evidence)}
_IMPLIED: dict[type[Evidence], dict[str, str]] = {
    UsedBy: {"sources": "sources"},
    ListsInUse: {"sources": "sources"},
    PartOf: {"parent": "parent"},
    MaybeChildOf: {"index": "parent"},
}


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# A field's type -> (is this JSON value one, the model's value of it)
_TYPES: dict[Any, tuple[Callable[[Any], bool], Callable[[Any], Any]]] = {
    str: (lambda v: isinstance(v, str), str),
    int: (_integer, int),
    int | None: (lambda v: v is None or _integer(v), lambda v: v),
    bool: (lambda v: isinstance(v, bool), bool),
    tuple[str, ...]: (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), tuple),
    Relation: (lambda v: v in set(Relation), Relation),
    ImageStatus: (lambda v: v in set(ImageStatus), ImageStatus),
}
_WRITTEN = {
    kind: [(f.name, _TYPES[f.type]) for f in fields(kind) if f.name not in _IMPLIED.get(kind, {})]
    for kind in KINDS.values()
}


def _values(kind: type[Evidence]) -> Callable[[Evidence], tuple[Any, ...]]:
    """What `encode` writes of a `kind` after its name: its written fields' values, in order."""
    names = [name for name, _ in _WRITTEN[kind]]
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda evidence: (one(evidence),)
    return lambda _: ()


_ENCODERS = {kind: (name, _values(kind)) for name, kind in KINDS.items()}


def encode(evidence: Evidence | None) -> list[Any] | None:
    """`evidence` as `[kind, field, ...]` (None: not known, as for a plan assembled by hand). A tuple field
    stays a tuple and an enum an enum (a StrEnum): both JSON writers write them as the array and string."""
    if evidence is None:
        return None
    name, values = _ENCODERS[type(evidence)]
    return [name, *values(evidence)]


# The Python types of the JSON values each plain field accepts (a bool is no int: type(), not isinstance).
_PLAIN_TYPES: dict[Any, tuple[type, ...]] = {int: (int,), int | None: (int, type(None)), bool: (bool,)}
_PLAIN_KINDS = {
    name: kind
    for name, kind in KINDS.items()
    if kind not in _IMPLIED and all(f.type in _PLAIN_TYPES for f in fields(kind))
}
"""The evidence that `decode` takes from its cell alone, with no value but its type to check:
`["ages", 86400, null]`, `["newest", 2, 3, 3]`."""
_PLAIN = frozenset(
    (name, *types)
    for name, kind in _PLAIN_KINDS.items()
    for types in product(*(_PLAIN_TYPES[f.type] for f in fields(kind)))
)
"""(kind, the type of each field) of a plain cell."""
# Each plain kind's cells as msgspec checks them, many in one call: an array of the kind's name then its
# fields (msgspec refuses a bool for an int, as type() does, but takes longer arrays: see `not_plain`).
_PLAIN_CELLS: dict[str, Any] = {
    name: list[  # type: ignore[misc]  # a type made at run time
        msgspec.defstruct(name, [(f.name, f.type) for f in fields(kind)], array_like=True, tag=name)
    ]
    for name, kind in _PLAIN_KINDS.items()
}
_FIRST = operator.itemgetter(0)


def plainly_valid(cell: Any) -> bool:
    """True when `decode` accepts `cell` whatever the image's record (a quick check of the commonest cells
    of 1,000,000 images: False says only that `decode` must be asked)."""
    return (
        type(cell) is list
        and bool(cell)
        and type(cell[0]) is str
        and (cell[0], *map(type, cell[1:])) in _PLAIN
    )


def not_plain(cells: list[Any]) -> list[int]:
    """The positions of the `cells` that are not `plainly_valid`, in order: the same answer as asking each,
    in a few C calls per kind for a column of arrays (0.1 µs a cell, not 1)."""
    try:
        if set(map(type, cells)) <= {list}:
            kinds = list(map(_FIRST, cells))  # IndexError: an empty cell
            by_kind = {
                kind: list(compress(count(), map(operator.eq, kinds, repeat(kind))))
                for kind in dict.fromkeys(kinds)
            }
        else:
            by_kind = {None: list(range(len(cells)))}
    except (IndexError, TypeError):  # TypeError: a kind that is no dict key (an array)
        by_kind = {None: list(range(len(cells)))}
    found: list[int] = []
    for kind, rows in by_kind.items():
        column = _PLAIN_CELLS.get(kind) if type(kind) is str else None
        if column is None or not _all_plain(list(map(cells.__getitem__, rows)), column):
            found.extend(n for n in rows if not plainly_valid(cells[n]))
    return sorted(found)


def _all_plain(group: list[Any], column: Any) -> bool:
    """True when every cell of `group` reads as `column` and writes back the same: what msgspec read past
    the kind's fields, or could not read, is not plain (its cells are then asked one by one)."""
    try:
        return bool(msgspec.to_builtins(msgspec.convert(group, column)) == group)
    except msgspec.ValidationError:
        return False


def decode(cell: Any, record: Mapping[str, Any], where: str) -> Evidence | None:
    """The evidence of `cell` (see `encode`; `where` names it in errors); `record` gives the implied fields
    (`parent`, `sources`)."""
    if cell is None:
        return None
    kind = KINDS.get(cell[0]) if isinstance(cell, list) and cell else None
    if kind is None or len(cell) != len(_WRITTEN[kind]) + 1:
        raise _refused(where, f"{str(cell)[:80]} is no known evidence")
    values: dict[str, Any] = {}
    for (name, (valid, convert)), value in zip(_WRITTEN[kind], cell[1:], strict=True):
        if not valid(value):
            raise _refused(where, f"{value!r} is no {name} of {cell[0]}")
        values[name] = convert(value)
    for name, key in _IMPLIED.get(kind, {}).items():
        if not record[key]:
            raise _refused(where, f"{cell[0]} needs the image's {key}")
        values[name] = tuple(record[key]) if key == "sources" else record[key]
    return kind(**values)


def _refused(where: str, what: str) -> ConfigError:
    return ConfigError(f"{where}: {what}: the plan was edited by hand; re-run ecrgc plan")
