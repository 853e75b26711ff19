"""The JSON document -> Plan: parse, version, schema (see the package docstring for the rules)."""

from __future__ import annotations

import gc
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import msgspec

from ecrgc.errors import ConfigError, PlanRefused
from ecrgc.model import (
    Action,
    InputFingerprint,
    InputKind,
    Plan,
    PlannedAction,
    PolicyRecord,
    ProtectedImage,
    Reason,
    ReplicaDestination,
    ReplicationRule,
    RepositorySummary,
)
from ecrgc.planfile import evidence
from ecrgc.planfile.columns import RepositoryColumns, Rows, codes
from ecrgc.planfile.encode import FORMAT_VERSION, summary_totals
from ecrgc.planfile.recordcheck import compile_check, inline
from ecrgc.planfile.writing import write_document, written_hash
from ecrgc.policy import document_sha256
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


def check_policy_hashes(plan: Plan, source: str) -> None:
    """Each embedded policy's `sha256` is the hash of its `document`: the hash a reviewer sees is true."""
    for n, record in enumerate(plan.policies):
        if (actual := document_sha256(record.document)) != record.sha256:
            raise PlanRefused(
                f"{source}::$.policies[{n}].sha256: {record.sha256[:12]} is not the hash of the policy"
                f" document beside it ({actual[:12]}): the plan was edited by hand; re-run ecrgc plan"
            )


def check_summary(
    plan: Plan, counted: Mapping[tuple[str, Action], int], summary: Mapping[str, Any], source: str
) -> None:
    """The summary agrees with the actions (`counted`: per repository and action, see `plan_from`) and with
    itself (totals): views count from it."""
    listed = {s.repository for s in plan.summary}
    if missing := sorted({repository for repository, _ in counted} - listed):
        raise ConfigError(
            f"{source}: $.summary.repositories has no entry for {missing[0]}; re-run ecrgc plan"
        )
    for entry in plan.summary:
        claimed = entry.deleted, entry.archived
        actual = (
            counted.get((entry.repository, Action.DELETE), 0),
            counted.get((entry.repository, Action.ARCHIVE), 0),
        )
        if claimed != actual:
            raise ConfigError(
                f"{source}: $.summary.repositories counts {claimed[0]} deleted and {claimed[1]} archived in "
                f"{entry.repository} but its actions are {actual[0]} and {actual[1]}; re-run ecrgc plan"
            )
    totals = summary_totals(plan.summary)
    if totals != {key: summary[key] for key in totals}:
        raise ConfigError(
            f"{source}: $.summary totals disagree with $.summary.repositories; re-run ecrgc plan"
        )


def plan_from(document: Mapping[str, Any], source: str) -> tuple[Plan, Counter[tuple[str, Action]]]:
    """The Plan of a validated document (either layout), and its actions counted by repository and action."""
    summary = document["summary"]
    counted: Counter[tuple[str, Action]] = Counter()
    if "columns" in document:
        repositories = [
            RepositoryColumns(c, f"{source}::$.columns[{n}]") for n, c in enumerate(document["columns"])
        ]
        actions: Sequence[PlannedAction] = Rows(repositories, kept=False)
        kept: Sequence[PlannedAction] = Rows(repositories, kept=True)
        protected = tuple(image for r in repositories for image in r.protected())
        action_of = codes()[0]
        for r in repositories:
            for code, n in Counter(r.action_codes).items():
                if action_of[code] is not Action.KEEP:
                    counted[r.name, action_of[code]] = n
    else:
        actions = tuple(_planned_action(a) for a in document["actions"])
        kept = tuple(_planned_action(k, f"{source}::$.kept[{n}]") for n, k in enumerate(document["kept"]))
        protected = tuple(
            _protected(k, f"{source}::$.kept[{n}]")
            for n, k in enumerate(document["kept"])
            if k["sources"] or k["reason"] == Reason.IN_USE
        )
        counted.update((a.repository, a.action) for a in actions)
    plan = Plan(
        format_version=document["format_version"],
        ecrgc_version=document["ecrgc_version"],
        created_at=_timestamp(document["created_at"]),
        expires_at=_timestamp(document["expires_at"]),
        account=document["target"]["account_id"],
        region=document["target"]["region"],
        policies=tuple(
            PolicyRecord(name=p["name"], sha256=p["sha256"], document=p["document"])
            for p in document["policies"]
        ),
        inputs=tuple(
            InputFingerprint(
                kind=InputKind(i["kind"]),
                name=i["name"],
                sha256=i["sha256"],
                references=i["references"],
                this_registry=i.get("this_registry", 0),
                other_accounts=i.get("other_accounts_or_regions", 0),
                other_registries=i.get("other_registries", 0),
                protected=i.get("images_protected", 0),
            )
            for i in document["inputs"]
        ),
        actions=actions,
        kept=kept,
        repository_deletions=tuple(document["repository_deletions"]),
        protected=protected,
        summary=tuple(_repository(s) for s in summary["repositories"]),
        replication=_replication(document.get("replication")),
    )
    return plan, counted


def _replication(rules: Sequence[Mapping[str, Any]] | None) -> tuple[ReplicationRule, ...] | None:
    if rules is None:
        return None
    return tuple(
        ReplicationRule(
            destinations=tuple(
                ReplicaDestination(account=d["account_id"], region=d["region"], target=d["target"])
                for d in rule["destinations"]
            ),
            prefixes=tuple(rule["prefixes"]),
            delete_replication=rule["delete_replication"],
        )
        for rule in rules
    )


def _protected(record: Mapping[str, Any], where: str) -> ProtectedImage:
    if record["reason"] != Reason.IN_USE:
        raise ConfigError(
            f"{where}.sources: sources for an image kept {record['reason']}, not in_use: the plan was edited"
            " by hand; re-run ecrgc plan"
        )
    return ProtectedImage(
        repository=record["repository"],
        digest=record["imageDigest"],
        tags=tuple(record["imageTags"]),
        sources=tuple(record["sources"]),
    )


def _planned_action(entry: Mapping[str, Any], where: str = "") -> PlannedAction:
    """An action's record, or a kept image's (no `action` key: it is kept; `where` names it)."""
    return PlannedAction(
        repository=entry["repository"],
        digest=entry["imageDigest"],
        tags=tuple(entry["imageTags"]),
        pushed_at=_timestamp(entry["pushedAt"]),
        last_pulled_at=_timestamp(entry["lastPulledAt"]) if entry["lastPulledAt"] else None,
        size_bytes=entry["sizeBytes"],
        media_type=entry["mediaType"],
        action=Action(entry.get("action", Action.KEEP)),
        reason=Reason(entry["reason"]),
        parent=entry["parent"],
        policy=entry["policy"],
        evidence=evidence.decode(entry["evidence"], entry, f"{where}.evidence")
        if "evidence" in entry
        else None,
    )


def _repository(entry: Mapping[str, Any]) -> RepositorySummary:
    return RepositorySummary(
        repository=entry["repository"],
        policy=entry["policy"],
        scanned=entry["scanned"],
        kept={Reason(reason): count for reason, count in entry["kept"].items()},
        deleted=entry["deleted"],
        archived=entry["archived"],
        bytes_reclaimed=entry["bytes_reclaimed"],
        delete_repository=entry["delete_repository"],
    )


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
