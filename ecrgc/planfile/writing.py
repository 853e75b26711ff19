"""A document -> the file's canonical text and its content hash, written or compared in one pass (see the
package docstring for the layout and the hash recipe)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

import msgspec

# The image lists are written one compact record per line: a pull request's diff then reads one line per
# image. Each record is encoded once: the file's line and the hashed text (compact too) share its bytes.
_ONE_LINE_EACH = {("actions",), ("kept",), ("columns",), ("summary", "repositories")}
_ON_THE_WAY = {path[:n] for path in _ONE_LINE_EACH for n in range(len(path))}
_compact = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_pretty = json.JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode
_BATCH, _BATCH_BYTES = 1024, 2**18  # records encoded, joined and written at a time (see _chunks)
_HASH_KEY = "content_sha256"
_HASH_SLOT = b"0" * 64
# (file piece, hashed piece): the file's bytes and the compact bytes the content hash is taken of, side by
# side. A file piece of None is the slot of the hash itself, which only the file has.
_Piece = tuple[bytes | None, bytes]


def _json_record(value: Any) -> bytes:
    return _compact(value).encode("utf-8")


# msgspec writes the records encode.py builds (`action_record`, `kept_record`, `_repository_summary`) and
# `columns.encode_repository` as the hash recipe's json.dumps does, about 5x faster: the same escapes
# (only `"`, `\\` and the control characters, as \uXXXX except \b \t \n \f \r), UTF-8 for the rest,
# keys sorted by code point (UTF-8 byte order is code point order), integers of any size, tuples as arrays,
# and a UTC datetime as format_timestamp writes it (`timestamp` hands it only those). A record holds no
# float (their shortest forms differ: json 1e+16, msgspec 1e16). tests/test_planfile_msgspec.py checks it.
_writer = msgspec.json.Encoder(order="sorted")
writer_record = _writer.encode
writer_lines = _writer.encode_lines
"""Records one a line, each followed by a newline (`Spool` blobs)."""
struct_lines = msgspec.json.Encoder().encode_lines
"""`writer_lines` of Structs that hold no mapping and declare their fields in the file's key order
(`encode.ActionRecord`, `encode.KeptRecord`): msgspec writes a Struct's fields in that order, so sorting
them costs a third of the encoding for nothing."""


def write_document(document: Mapping[str, Any], out: BinaryIO | None, *, ours: bool = False) -> str:
    """Write the file's text of `document` (given without its hash; its image lists may be any iterables,
    consumed once) to `out`, a seekable binary file, and return the content hash; with `out` None only hash.
    `ours`: the image records are this module's (msgspec may write them), not any parsed JSON (json does).

    Keys sorted, 2-space indent, a final newline, each element of the image lists on one compact line of its
    own. The hash is computed as the text is written, from the same encoded records; its place in the file
    (`content_sha256` sorts before the lists after `actions`) is written as zeros and filled in at the end,
    so only the records being written are in memory, never the document's text."""
    digest = hashlib.sha256()
    slot = None
    record = writer_record if ours else _json_record
    for piece, hashed in _pieces({**document, _HASH_KEY: None}, (), "", record):
        digest.update(hashed)
        if out is None:
            continue
        if piece is None:
            slot = out.tell()
            out.write(_HASH_SLOT)
        else:
            out.write(piece)
    sha256 = digest.hexdigest()
    if out is not None:
        out.write(b"\n")
        assert slot is not None
        end = out.tell()
        out.seek(slot)
        out.write(sha256.encode("ascii"))
        out.seek(end)
    return sha256


def written_hash(document: Mapping[str, Any], text: bytes | bytearray) -> str | None:
    """The content hash of a parsed `document` when `text` is byte for byte the file `write_document`
    writes of it (its image lists by msgspec: `ours`), that hash in its place; else None (a file written
    by hand, re-indented, edited, or holding a float, which msgspec writes otherwise than the recipe).

    Such a text holds each key of each object once and reads the same to every JSON reader: it is one
    writer's encoding of `document`. So it needs neither a parse that refuses duplicate keys nor hashing
    again (`planfile.loads`); it costs what hashing the document costs, and stops at the first byte that
    differs."""
    digest = hashlib.sha256()
    at, slot = 0, -1
    try:
        for piece, hashed in _pieces({**document, _HASH_KEY: None}, (), "", writer_record):
            digest.update(hashed)
            if piece is None:
                slot, at = at, at + len(_HASH_SLOT)
            elif text.startswith(piece, at):
                at += len(piece)
            else:
                return None
    except TypeError:  # a value msgspec does not write (a parsed float)
        return None
    sha256 = digest.hexdigest()
    in_place = slot >= 0 and text[slot : slot + len(_HASH_SLOT)] == sha256.encode("ascii")
    return sha256 if in_place and text[at:] == b"\n" else None


class Lines(msgspec.Struct, frozen=True):
    """Records already encoded, each followed by a newline (a spool's blob of one repository's): an item
    of an image list that `write_document` writes as they are, in one piece, not record by record."""

    blob: bytes


def _chunks(items: Iterator[Any], record: Callable[[Any], bytes], between: bytes) -> Iterator[_Piece]:
    """The encoded records of `items` as (file piece, hashed piece) pairs: records joined by `between` in
    the file and by a comma in the hashed text (no separator before the first), up to _BATCH records or about
    _BATCH_BYTES at a time (a columns record holds a whole repository), so that joining them copies little:
    a `Lines`'s records as they are, the others encoded first."""
    batch: list[bytes] = []
    size = 0
    for item in items:
        if isinstance(item, Lines):
            if batch:
                yield between.join(batch), b",".join(batch)
                batch, size = [], 0
            blob, start = item.blob, 0
            while start < len(blob):  # about _BATCH_BYTES at a time, ending with a record
                end = blob.find(b"\n", start + _BATCH_BYTES)
                body = blob[start : len(blob) - 1 if end < 0 else end]
                # A JSON record holds no raw newline: only the records' own are replaced.
                yield body.replace(b"\n", between), body.replace(b"\n", b",")
                start += len(body) + 1
            continue
        batch.append(encoded := record(item))
        size += len(encoded)
        if len(batch) == _BATCH or size >= _BATCH_BYTES:
            yield between.join(batch), b",".join(batch)
            batch, size = [], 0
    if batch:
        yield between.join(batch), b",".join(batch)


def _pieces(
    value: Any, path: tuple[str, ...], indent: str, record: Callable[[Any], bytes]
) -> Iterator[_Piece]:
    """`value` at `path` of the document as (file piece, hashed piece) pairs; the file pretty at `indent`."""
    inner = indent + "  "
    # A hand-made document may hold anything anywhere: only a list (or our writer's iterable) is written
    # one element a line, only an object key by key; the hash is the recipe's either way.
    if path in _ONE_LINE_EACH and not isinstance(value, str | int | float | Mapping | None):
        yield b"[", b"["
        between = f",\n{inner}".encode()
        first = True
        for piece in _chunks(iter(value), record, between):
            yield (f"\n{inner}".encode(), b"") if first else (between, b",")
            yield piece
            first = False
        yield (b"]" if first else f"\n{indent}]".encode()), b"]"
    elif path in _ON_THE_WAY and isinstance(value, Mapping):
        yield b"{", b"{"
        hashed = 0
        for n, key in enumerate(sorted(value)):
            name, separator = _compact(key), ("\n" if n == 0 else ",\n") + inner
            if not path and key == _HASH_KEY:
                yield f'{separator}{name}: "'.encode(), b""
                yield None, b""
                yield b'"', b""
                continue
            yield f"{separator}{name}: ".encode(), f"{',' if hashed else ''}{name}:".encode()
            hashed += 1
            yield from _pieces(value[key], (*path, key), inner, record)
        yield f"\n{indent}}}".encode(), b"}"
    else:
        # A JSON string holds no raw newline, so indenting a nested value is a plain replace.
        yield _pretty(value).replace("\n", "\n" + indent).encode(), _json_record(value)
