"""A plan file's text -> its JSON document, checked: parse, content hash, version, schema (build.py makes the
Plan of it; see the package docstring for the rules)."""

from __future__ import annotations

import gc
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import msgspec

from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.planfile.encode import FORMAT_VERSION
from ecrgc.planfile.recordcheck import compile_check, inline
from ecrgc.planfile.writing import write_document, written_hash
from ecrgc.schemafiles import load_schema

if TYPE_CHECKING:
    import jsonschema

_MAX_ERRORS = 20  # a broken file can fail on every action; the first errors are enough to see why
_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)$")


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a plan is parsed and built: millions of objects are
    allocated and none is in a cycle, and it would traverse them again and again (a quarter of loading a
    1,000,000-image .json.gz, CPython's thresholds or the CLI's)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _DuplicateKey(ValueError):
    """A key appears twice in one JSON object: the plan is refused whichever value a reader would take."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook refusing a key given twice (json.loads keeps the last one silently)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _DuplicateKey(next(key for key, n in Counter(key for key, _ in pairs).items() if n > 1))
    return found


class _ParsedFloat(float):
    """A float as parsed from a plan file: msgspec writes floats unlike json (`1e16`, not `1e+16`) and
    refuses this type, so the content hash of a document holding one is taken by json (`content_sha256`)."""


def _parsed_float(text: str) -> _ParsedFloat:
    return _ParsedFloat(text)


_PLAIN_JSON = msgspec.json.Decoder(float_hook=_parsed_float)


def parse_written(text: bytes | bytearray) -> tuple[dict[str, Any], str] | None:
    """(the document, its content hash, verified) when `text` is exactly the file ecrgc writes of it
    (`encode.written_hash`), else None: then `parse` and the content hash check read it. What every plan
    ecrgc wrote costs: msgspec's parse (twice as fast as json's with the duplicate-key hook) and the hash;
    the file's text is compared with the document's, written again, as it is hashed."""
    try:
        document = _PLAIN_JSON.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("content_sha256"), str):
        return None
    sha256 = written_hash(document, text)
    return None if sha256 is None else (document, sha256)


def parse(text: str | bytes | bytearray, source: str) -> dict[str, Any]:
    """The JSON object in `text` (bytes: UTF-8), which must at least carry a content hash; a key given
    twice in any object is refused (a reader would see one value, another tool the other)."""
    try:
        text = text if isinstance(text, str) else text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: cannot read the plan file: {exc}; re-run ecrgc plan") from exc
    try:
        document = json.loads(
            text, object_pairs_hook=_unique_keys, parse_float=_parsed_float, parse_constant=_parsed_float
        )
    except _DuplicateKey as exc:
        raise PlanRefused(
            f"{source}: the key {str(exc)!r} appears twice in one object: the plan was edited by hand;"
            " re-run ecrgc plan"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON ({exc}); re-run ecrgc plan") from exc
    if not isinstance(document, dict) or not isinstance(document.get("content_sha256"), str):
        raise ConfigError(f"{source}: not an ecrgc plan (no content_sha256); re-run ecrgc plan")
    return document


def content_sha256(document: Mapping[str, Any]) -> str:
    """The content hash of a parsed `document` given without its `content_sha256` (the package docstring's
    recipe), one record (or repository) encoded at a time, never the whole text: by msgspec, which writes
    what json.loads makes (dicts, lists, str, int, bool, None) as the recipe's json.dumps does; a document
    holding a float (which msgspec writes otherwise: 1e16, not 1e+16) by json itself."""
    try:
        return write_document(document, None, ours=True)
    except TypeError:  # msgspec refuses a _ParsedFloat
        return write_document(document, None)


def check_version(document: Mapping[str, Any], source: str) -> bool:
    """Refuse another major version; True when the file is a newer minor version than ours."""
    version = document.get("format_version")
    match = _VERSION.match(version) if isinstance(version, str) else None
    ours = _VERSION.match(FORMAT_VERSION)
    assert ours is not None
    if match is not None and int(match.group(1)) < int(ours.group(1)):
        raise PlanRefused(
            f"{source}: format_version {version!r} is an older plan format, which this ecrgc no longer reads"
            f" (it reads {ours.group(1)}.x); re-run ecrgc plan (plans expire anyway)"
        )
    if match is None or match.group(1) != ours.group(1):
        raise PlanRefused(
            f"{source}: format_version {version!r} is not supported (this ecrgc reads {ours.group(1)}.x); "
            "use the ecrgc version that made the plan or re-run ecrgc plan"
        )
    return int(match.group(2)) > int(ours.group(2))


def validate(document: Mapping[str, Any], source: str, *, forgive_unknown_keys: bool) -> None:
    """Every schema error, sorted, as `file::$.json.path: message` lines of one ConfigError. A valid
    document costs its compiled check only (jsonschema checks each of 700,000 actions in half a
    millisecond, and costs a tenth of a second to import); jsonschema then names the errors of an invalid
    one."""
    if not forgive_unknown_keys and _compiled_check()(document):
        return
    errors = sorted(
        (_path(e.absolute_path), e.message[:200])
        for e in _validator().iter_errors(document)
        if not (forgive_unknown_keys and e.validator == "additionalProperties")
    )
    if errors:
        lines = [f"{source}::{path}: {message}" for path, message in errors[:_MAX_ERRORS]]
        if len(errors) > _MAX_ERRORS:
            lines.append(f"... and {len(errors) - _MAX_ERRORS} more")
        raise ConfigError(
            f"{source}: not a valid plan file ({len(errors)} errors); re-run ecrgc plan", tuple(lines)
        )


@cache
def _compiled_check() -> Callable[[Any], bool]:
    return compile_check(_inlined_schema())


def _path(parts: Iterable[str | int]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # noqa: PLC0415  # only to name the errors of an invalid plan: importing it costs 0.1 s

    return jsonschema.Draft202012Validator(_inlined_schema())


@cache
def _inlined_schema() -> dict[str, Any]:
    # Inlined, a 50,000-action plan validates about twice as fast, and compile_check needs no `$ref`. The
    # schema file keeps its $defs for readers.
    return inline(load_schema("plan.schema.json"))
