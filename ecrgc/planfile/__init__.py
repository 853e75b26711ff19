"""Plan <-> canonical JSON: the one place that knows the plan format (encode.py writes, decode.py reads).

The file is what a reviewer reads in a pull request and what `ecrgc apply` executes, so it is canonical:
keys sorted, 2-space indent, a final newline, UTC timestamps written `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`,
each image record (an element of `actions`, `protected` or `summary.repositories`) on one line of its own
(compact, `{"key":value,...}`: a diff reads one line per image), and every list in a stable order (actions by
repository, then depth — an index or subject before what goes with it —, then digest; everything else by
name). `loads(dumps(p)) == canonical(p)` and `dumps(loads(s)) == s`.

Naming: top-level and summary keys are snake_case, image records (`actions`, `protected`) use the
ECR-style camelCase field names of the issue (imageDigest, imageTags, pushedAt, lastPulledAt …).

Versioning (Terraform's contract): `format_version` is major.minor. A minor version only adds keys, which
readers ignore; a new major version is refused. `schemas/plan.schema.json` closes every object, so a file
of our own version must match it exactly; for a newer minor only the unknown-key errors are forgiven.

Content hash: `content_sha256` is the lowercase hex sha256 of the UTF-8 bytes of
`json.dumps(document_without_content_sha256, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
— the parsed document, so re-indenting the file does not change it but editing any value does (unknown keys
of a newer minor version are covered too). Our keys are ASCII, strings are written as UTF-8 (only what JSON
requires is escaped) and no number is fractional, so another JSON implementation can reproduce it.

Summary: per repository the planner's counts (scanned, kept by reason, deleted, archived, and
bytes_reclaimed, the planner's estimate of the storage freed); `loads` checks that the deleted and archived
counts agree with the actions and that the top-level totals agree with the repositories.

Money: `estimated_monthly_saving_usd` = bytes_reclaimed / 10^9 (decimal GB, as AWS bills) x $0.10 per
GB-month (standard storage; archiving saves nothing below 150 TB), rounded half-up to cents. ECR sizes count
layers shared with kept images too, so it is an upper bound.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.model import Plan
from ecrgc.planfile.decode import (
    check_policy_hashes,
    check_summary,
    check_version,
    parse,
    plan_from,
    validate,
)
from ecrgc.planfile.encode import (
    BYTES_PER_GB,
    FORMAT_VERSION,
    USD_PER_GB_MONTH,
    canonical,
    depths,
    document,
    format_timestamp,
    hash_document,
    monthly_saving_usd,
    order_actions,
    written,
)

__all__ = [
    "BYTES_PER_GB",
    "FORMAT_VERSION",
    "USD_PER_GB_MONTH",
    "canonical",
    "content_hash",
    "depths",
    "dumps",
    "format_timestamp",
    "load_plan_file",
    "loads",
    "monthly_saving_usd",
    "order_actions",
    "write_plan_file",
]


def dumps(plan: Plan) -> str:
    """The canonical text of `plan` (sorted, stable, hashed, final newline)."""
    return _encode(plan)[0]


def _encode(plan: Plan) -> tuple[str, str]:
    """The canonical text of `plan` and its content hash, from one document (a big plan costs seconds)."""
    if plan.format_version != FORMAT_VERSION:
        raise ValueError(f"ecrgc writes plan format {FORMAT_VERSION}, not {plan.format_version}")
    return written(document(canonical(plan)))


def loads(text: str, *, source: str = "plan") -> Plan:
    """Parse and verify a plan: no duplicate keys, version, content hash, schema, each embedded policy's
    hash and the summary totals; the Plan carries the content hash verified. `source` names the file in
    error messages. Raises PlanRefused (tampered, unsupported major version) or ConfigError."""
    parsed = parse(text, source)
    newer_minor = check_version(parsed, source)
    sha256 = check_content_hash(parsed, source)
    validate(parsed, source, forgive_unknown_keys=newer_minor)
    plan = replace(plan_from(parsed), sha256=sha256)
    check_policy_hashes(plan, source)
    check_summary(plan, parsed["summary"], source)
    return plan


def check_content_hash(parsed: Mapping[str, Any], source: str) -> str:
    """The `content_sha256` of a parsed plan, refused unless it is the hash of the rest of the document.

    A checksum, not a signature: whoever edits the file can recompute it. What apply trusts of a plan is
    only what can narrow it (see ecrgc.apply)."""
    sha256: str = parsed["content_sha256"]
    if hash_document({k: v for k, v in parsed.items() if k != "content_sha256"}) != sha256:
        raise PlanRefused(
            f"{source}: content hash mismatch: the plan was edited after it was made; re-run ecrgc plan"
        )
    return sha256


def load_plan_file(path: str | os.PathLike[str]) -> Plan:
    """Read and verify the plan file at `path` (see `loads`)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the plan file: {exc}") from exc
    return loads(text, source=str(path))


def write_plan_file(plan: Plan, path: str | os.PathLike[str]) -> str:
    """Write `dumps(plan)` to `path` atomically (a reader never sees half a plan), creating parent dirs;
    return its `content_sha256`, so views of the plan need not hash it again (`render.plan_json(...)`)."""
    text, sha256 = _encode(plan)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8", newline="\n")
    partial.replace(target)
    return sha256


def content_hash(plan: Plan) -> str:
    """The `content_sha256` that `dumps(plan)` writes: what apply reports and audits refer to."""
    return hash_document(document(canonical(plan)))
