"""Plan <-> canonical JSON: the one place that knows the plan format (ordering.py puts a plan in order,
encode.py and columns.py make its document, writing.py writes and hashes it; decode.py parses and checks a
file, build.py makes the Plan of it).

The file records every image's decision: `actions` (each image deleted or archived) and `kept` (each image
kept, with the reason; an in-use one with the sources that use it: the plan's `protected` list is folded in
there, not stored twice). It comes in two layouts, chosen by the file's name, that decode to the same Plan:
- the records layout (`plan.json`): what a reviewer reads in a pull request and what `ecrgc apply`
  executes, so it is canonical: keys sorted, 2-space indent, a final newline, UTC timestamps written
  `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`, each image record (an element of `actions`, `kept` or
  `summary.repositories`) on one line of its own (compact, `{"key":value,...}`: a diff reads one line per
  image), and every list in a stable order (actions by repository, then depth — an index or subject before
  what goes with it —, then digest; kept images by repository, then digest; everything else by name);
- the columns layout (`plan.json.gz`, gzip-compressed: no name, no time, level 6, so the same plan gives
  the same bytes with the same zlib): `columns`, one entry per repository holding its images as column
  arrays (see columns.py for the encoding and what each choice saves), read under the same checks and a
  decompressed-size cap. A `.json.gz` holding the records layout (a `.json` plan gzipped by hand) loads too.
`loads(dumps(p)) == canonical(p)` and `dumps(loads(s)) == s`, for either layout.

Naming: top-level and summary keys are snake_case, image records (`actions`, `protected`) use the
ECR-style camelCase field names of the issue (imageDigest, imageTags, pushedAt, lastPulledAt …).

Versioning (Terraform's contract): `format_version` is major.minor. A minor version only adds keys, which
readers ignore; a new major version is refused, and so is an older one (format 1.x, without the kept
images: plans expire within days, so the one-line refusal says to re-plan). `schemas/plan.schema.json`
closes every object, so a file of our own version must match it exactly; for a newer minor only the
unknown-key errors are forgiven.

Content hash (the same recipe for both layouts; each file has its own): `content_sha256` is the lowercase
hex sha256 of the UTF-8 bytes of
`json.dumps(document_without_content_sha256, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
— the parsed document, so re-indenting the file does not change it but editing any value does (unknown keys
of a newer minor version are covered too). Our keys are ASCII, strings are written as UTF-8 (only what JSON
requires is escaped) and no number is fractional, so another JSON implementation can reproduce it. The
writer computes it once, as it writes; the loader once, one record (or repository) at a time, and the Plan
carries it (`Plan.sha256`): no view hashes a loaded plan again.

Summary: per repository the planner's counts (scanned, kept by reason, deleted, archived, and
bytes_reclaimed, the planner's estimate of the storage freed); `loads` checks that the deleted and archived
counts agree with the actions and that the top-level totals agree with the repositories.

Money: `estimated_monthly_saving_usd` = bytes_reclaimed / 10^9 (decimal GB, as AWS bills) x $0.10 per
GB-month (standard storage; archiving saves nothing below 150 TB), rounded half-up to cents. ECR sizes count
layers shared with kept images too, so it is an upper bound.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, cast

from isal import igzip, isal_zlib

from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.model import Plan
from ecrgc.planfile.build import check_policy_hashes, check_summary, plan_from
from ecrgc.planfile.columns import document as columns_document
from ecrgc.planfile.decode import (
    check_version,
    collector_paused,
    content_sha256,
    parse,
    parse_written,
    validate,
)
from ecrgc.planfile.encode import (
    BYTES_PER_GB,
    FORMAT_VERSION,
    USD_PER_GB_MONTH,
    document,
    format_timestamp,
    monthly_saving_usd,
)
from ecrgc.planfile.ordering import canonical, depths, order_actions
from ecrgc.planfile.spool import spool_of
from ecrgc.planfile.writing import write_document

__all__ = [
    "BYTES_PER_GB",
    "FORMAT_VERSION",
    "MAX_DECOMPRESSED_BYTES",
    "USD_PER_GB_MONTH",
    "canonical",
    "content_hash",
    "depths",
    "dumps",
    "format_timestamp",
    "is_compressed",
    "load_plan_file",
    "loads",
    "monthly_saving_usd",
    "order_actions",
    "write_plan_file",
]


def dumps(plan: Plan, *, columns: bool = False) -> str:
    """The canonical text of `plan` (sorted, stable, hashed, final newline), in the records layout (one
    line per image, what a `.json` file holds) or the `columns` layout (what a `.json.gz` file holds)."""
    text = io.BytesIO()
    _encode(plan, text, columns=columns)
    return text.getvalue().decode("utf-8")


def _encode(plan: Plan, out: BinaryIO | None, *, columns: bool) -> str:
    """Write the canonical text of `plan` to `out` (None: nowhere) and return its content hash."""
    if plan.format_version != FORMAT_VERSION:
        raise ValueError(f"ecrgc writes plan format {FORMAT_VERSION}, not {plan.format_version}")
    ordered = canonical(plan)
    spool = spool_of(ordered)
    if spool is not None and spool.columns == columns:  # encoded as it was made: written from its spool
        return write_document(spool.document(ordered), out, ours=True)
    return write_document(columns_document(ordered) if columns else document(ordered), out, ours=True)


def loads(text: str | bytes | bytearray, *, source: str = "plan") -> Plan:
    """Parse and verify a plan (`text`, bytes: UTF-8): no duplicate keys, version, content hash, schema,
    each embedded policy's hash and the summary totals; the Plan carries the content hash verified.
    `source` names the file in error messages. Raises PlanRefused (tampered, unsupported major version)
    or ConfigError.

    A text that is exactly what ecrgc writes of its document is parsed once by msgspec and its hash
    verified as it is compared (`decode.parse_written`); any other is read by `parse`, which refuses
    duplicate keys, and its hash checked after: the same checks, the same answers."""
    return _load([text], source)


def _load(texts: list[str | bytes | bytearray], source: str) -> Plan:
    """`loads` of the one text in `texts`, the only reference to it: a text that is not ecrgc's own is
    decoded by `parse`, and its bytes freed then (a 1,000,000-image plan's are 100 MB)."""
    with collector_paused():
        text = texts[0]
        written = parse_written(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
        del text
        if written is None:
            parsed = parse(texts.pop(), source)
            newer_minor = check_version(parsed, source)
            sha256 = check_content_hash(parsed, source)
        else:
            parsed, sha256 = written
            newer_minor = check_version(parsed, source)
        validate(parsed, source, forgive_unknown_keys=newer_minor)
        made, counted = plan_from(parsed, source)
    plan = replace(made, sha256=sha256)
    check_policy_hashes(plan, source)
    check_summary(plan, counted, parsed["summary"], source)
    return plan


def check_content_hash(parsed: Mapping[str, Any], source: str) -> str:
    """The `content_sha256` of a parsed plan, refused unless it is the hash of the rest of the document.

    A checksum, not a signature: whoever edits the file can recompute it. What apply trusts of a plan is
    only what can narrow it (see ecrgc.apply)."""
    sha256: str = parsed["content_sha256"]
    # Hashed one record (or repository) at a time, never the whole text.
    if content_sha256({k: v for k, v in parsed.items() if k != "content_sha256"}) != sha256:
        raise PlanRefused(
            f"{source}: content hash mismatch: the plan was edited after it was made; re-run ecrgc plan"
        )
    return sha256


def load_plan_file(path: str | os.PathLike[str]) -> Plan:
    """Read and verify the plan file at `path` (see `loads`); a `.gz` file is gzip-compressed."""
    return _load([_read(Path(path))], str(path))  # no name here holds the text (see _load)


def _read(path: Path) -> bytes | bytearray:
    try:
        return _read_gzip(path) if is_compressed(path) else path.read_bytes()
    except (OSError, EOFError, _BROKEN_DEFLATE) as exc:
        # OSError includes gzip.BadGzipFile (not gzip, a bad CRC); EOFError is a truncated stream;
        # _BROKEN_DEFLATE a broken deflate stream.
        raise ConfigError(f"{path}: cannot read the plan file: {exc}; re-run ecrgc plan") from exc


def is_compressed(path: str | os.PathLike[str]) -> bool:
    """A plan file named `*.gz` (`plan.json.gz`) is the same canonical text, gzip-compressed."""
    return Path(path).suffix == ".gz"


MAX_DECOMPRESSED_BYTES = 2**30
"""A compressed plan is refused beyond this (a 1,000,000-action plan is ~370 MB): a gzip bomb must not
exhaust memory before the plan's checks can refuse it."""
_CHUNK = 2**20
_LEVEL = 6
"""zlib's level for a compressed plan: its default. On a 100,000-image plan's columns text (10 MB) level 9
takes 0.98 s of CPU for a 0.4 % smaller file than level 6's 0.58 s (level 4: 0.35 s, 1.6 % larger);
ISA-L's compressor (0.03 s) is not used: its bytes depend on the CPU features it dispatches on."""
_BROKEN_DEFLATE = cast("type[Exception]", isal_zlib.error)  # its stub declares the class an instance


def _read_gzip(path: Path) -> bytearray:
    text = bytearray()  # grown in place: no list of chunks joined into a second copy
    # ISA-L's inflate, the gzip module's reader (the same members, padding, CRC and length checks and
    # errors): 0.32 s instead of zlib's 0.81 s for a 1,000,000-image plan (pyproject.toml).
    with igzip.open(path, "rb") as stream:  # type: ignore[no-untyped-call]  # isal's open has no hints
        while chunk := stream.read(_CHUNK):
            text += chunk
            if len(text) > MAX_DECOMPRESSED_BYTES:
                raise ConfigError(
                    f"{path}: decompresses to more than {MAX_DECOMPRESSED_BYTES:,} bytes: not a plan file"
                    " ecrgc wrote; re-run ecrgc plan"
                )
    return text


def write_plan_file(plan: Plan, path: str | os.PathLike[str]) -> str:
    """Write `dumps(plan)` to `path` atomically (a reader never sees half a plan), creating parent dirs,
    gzip-compressed when `path` ends in `.gz` (deterministic bytes: no name, no time, level 6); return its
    `content_sha256`, so views of the plan need not hash it again (`render.plan_json(...)`).

    The text is written as it is encoded (never held whole in memory); a compressed plan's text is written
    to a scratch file beside it first, then compressed from there."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    text = target.with_name(f".{target.name}.text.partial") if is_compressed(target) else partial
    try:
        with text.open("w+b") as out:
            sha256 = _encode(plan, out, columns=text != partial)
            if text != partial:
                out.seek(0)
                with (
                    partial.open("wb") as raw,
                    gzip.GzipFile(
                        filename="", mode="wb", fileobj=raw, compresslevel=_LEVEL, mtime=0
                    ) as packed,
                ):
                    shutil.copyfileobj(out, packed, _CHUNK)
        partial.replace(target)
    finally:
        text.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return sha256


def content_hash(plan: Plan) -> str:
    """The `content_sha256` that `dumps(plan)` writes (a `.json` file): what apply reports and audits
    refer to. A loaded plan carries the hash of its own file (`Plan.sha256`): use that one."""
    return _encode(plan, None, columns=False)
