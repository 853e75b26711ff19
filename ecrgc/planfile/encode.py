"""Plan -> the canonical JSON document (see the package docstring for the format and the hash)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, BinaryIO, Protocol, TypeVar

import msgspec
from msgspec import structs

from ecrgc.model import (
    Action,
    Evidence,
    Plan,
    PlannedAction,
    ProtectedImage,
    Reason,
    ReplicationRule,
    RepositorySummary,
)
from ecrgc.planfile import evidence

FORMAT_VERSION = "2.0"
"""The plan format this ecrgc writes; it reads any 2.x."""

USD_PER_GB_MONTH = Decimal("0.10")
BYTES_PER_GB = 10**9


_T = TypeVar("_T")


class InOrder(tuple[_T, ...]):
    """An image list that `canonical` put in order: a tuple cannot be reordered, so a canonical plan's
    lists are not sorted again (`run_plan` canonicalises the plan, then `write_plan_file` does)."""

    __slots__ = ()


class Canonical(Sequence[_T]):
    """An image list known to be in canonical order, which `canonical` leaves as it is (a spooled plan's:
    see spool.py)."""


def _ordered(images: Sequence[_T]) -> bool:
    return isinstance(images, InOrder | Canonical)


def canonical(plan: Plan) -> Plan:
    """`plan` with every list in canonical order and policy documents as plain JSON values."""
    actions, kept, protected = plan.actions, plan.kept, plan.protected
    return replace(
        plan,
        policies=tuple(
            replace(p, document=json.loads(json.dumps(_plain(p.document))))
            for p in sorted(plan.policies, key=lambda p: p.name)
        ),
        inputs=tuple(sorted(plan.inputs)),
        actions=actions
        if _ordered(actions)
        else InOrder(order_actions(with_sorted_tags(a) for a in actions)),
        kept=kept
        if _ordered(kept)
        else InOrder(sorted(map(with_sorted_tags, kept), key=lambda k: (k.repository, k.digest))),
        repository_deletions=tuple(sorted(plan.repository_deletions)),
        protected=protected
        if _ordered(protected)
        else InOrder(
            _with_sorted_lists(p) for p in sorted(protected, key=lambda p: (p.repository, p.digest))
        ),
        summary=tuple(sorted(plan.summary, key=lambda s: s.repository)),
        replication=None
        if plan.replication is None
        else tuple(
            sorted(
                replace(r, destinations=tuple(sorted(r.destinations)), prefixes=tuple(sorted(r.prefixes)))
                for r in plan.replication
            )
        ),
    )


def with_sorted_tags(action: PlannedAction) -> PlannedAction:
    # Copy only when needed: a canonical plan of 700,000 actions would otherwise be rebuilt on every write.
    if len(action.tags) < 2:
        return action
    tags = tuple(sorted(action.tags))
    return action if tags == action.tags else structs.replace(action, tags=tags)


def _with_sorted_lists(image: ProtectedImage) -> ProtectedImage:
    tags, sources = tuple(sorted(image.tags)), tuple(sorted(image.sources))
    if (tags, sources) == (image.tags, image.sources):
        return image
    return replace(image, tags=tags, sources=sources)


def order_actions(actions: Iterable[PlannedAction]) -> tuple[PlannedAction, ...]:
    """Actions by repository, then depth (a parent before what goes with it), then digest."""
    by_repository: dict[str, list[PlannedAction]] = {}
    for action in actions:
        by_repository.setdefault(action.repository, []).append(action)
    ordered: list[PlannedAction] = []
    # One small sort per repository (sorted input costs a linear pass): a 700,000-action plan is
    # re-ordered on every write, so no key tuple carries the repository name.
    for name in sorted(by_repository):
        mine = by_repository[name]
        depth = depths(mine)
        if len(depth) != len(mine):
            raise ValueError("a plan lists the same image twice")
        mine.sort(key=lambda a: (depth[a.digest], a.digest))
        ordered.extend(mine)
    return tuple(ordered)


def depths(actions: Iterable[PlannedAction]) -> dict[str, int]:
    """digest -> length of its parent chain within `actions` (0: no planned parent), for one repository.

    The plan's order and apply's levels (a parent in an earlier call than what goes with it) both use it.
    """
    return chain_depths({a.digest: a.parent for a in actions})


def chain_depths(parents: Mapping[str, str | None]) -> dict[str, int]:
    """image -> length of its chain of `parents` (image -> its parent, or None) within them (0: none)."""
    found: dict[str, int] = {}
    for digest, parent in parents.items():
        if parent is None or parent not in parents:  # most images: no chain to walk
            found[digest] = 0
            continue
        chain: list[str] = []
        at: str | None = digest
        # Iterative and cycle-safe (`chain`): digests cannot form cycles, but a bad plan must not hang us.
        while at is not None and at in parents and at not in found and at not in chain:
            chain.append(at)
            at = parents[at]
        base = -1 if at is None else found.get(at, -1)
        for offset, item in enumerate(reversed(chain), start=1):
            found[item] = base + offset
    return found


def monthly_saving_usd(size_bytes: int) -> Decimal:
    """Estimated saving per month of freeing `size_bytes` of standard storage, in dollars, to the cent."""
    return (Decimal(size_bytes) / BYTES_PER_GB * USD_PER_GB_MONTH).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def format_timestamp(moment: datetime) -> str:
    """`moment` as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`; naive datetimes are a bug, not UTC."""
    if moment.tzinfo is UTC:
        # Every model timestamp is UTC: a plan writes two per action, so skip the offset arithmetic.
        return moment.isoformat()[:-6] + "Z"  # drop "+00:00"
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: ecrgc timestamps are timezone-aware")
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat().removesuffix("+00:00") + "Z"


def header(plan: Plan) -> dict[str, Any]:
    """What both layouts write besides the images: target, dates, policies, inputs, summary, deletions."""
    return {
        "format_version": plan.format_version,
        "ecrgc_version": plan.ecrgc_version,
        "created_at": format_timestamp(plan.created_at),
        "expires_at": format_timestamp(plan.expires_at),
        "target": {"account_id": plan.account, "region": plan.region},
        "policies": [{"name": p.name, "sha256": p.sha256, "document": p.document} for p in plan.policies],
        "inputs": [
            {
                "kind": str(i.kind),
                "name": i.name,
                "sha256": i.sha256,
                "references": i.references,
                "this_registry": i.this_registry,
                "other_accounts_or_regions": i.other_accounts,
                "other_registries": i.other_registries,
                "images_protected": i.protected,
            }
            for i in plan.inputs
        ],
        "summary": {
            **summary_totals(plan.summary),
            "repositories": map(_repository_summary, plan.summary),
        },
        "repository_deletions": list(plan.repository_deletions),
        **(
            {}
            if plan.replication is None
            else {"replication": list(map(_replication_rule, plan.replication))}
        ),
    }


def _replication_rule(rule: ReplicationRule) -> dict[str, Any]:
    return {
        "destinations": [
            {"account_id": d.account, "region": d.region, "target": d.target} for d in rule.destinations
        ],
        "prefixes": list(rule.prefixes),
        "delete_replication": rule.delete_replication,
    }


def document(plan: Plan) -> dict[str, Any]:
    """The records layout (`.json`) of a canonical `plan`, without its content hash, for `write_document`:
    one record per image, `actions` then `kept` (an in-use image's record names its sources).

    The image lists are lazy (each record is made as it is written, then dropped); their records are
    msgspec Structs (`ActionRecord`, `KeptRecord`), for `writer_record`."""
    return {**header(plan), "actions": map(action_record, plan.actions), "kept": _kept_records(plan)}


def _kept_records(plan: Plan) -> Iterator[KeptRecord]:
    sources = sources_of(plan)
    for image in plan.kept:
        yield kept_record(image, sources.pop((image.repository, image.digest), ()))
    unclaimed(sources)


def sources_of(plan: Plan) -> dict[tuple[str, str], tuple[str, ...]]:
    """(repository, digest) -> who uses it, for each protected image (each must have a kept record)."""
    return {(p.repository, p.digest): p.sources for p in plan.protected}


def unclaimed(sources: Mapping[tuple[str, str], tuple[str, ...]]) -> None:
    """Raise when a protected image (what is left of `sources_of` once the kept records took theirs) has no
    kept record: the file folds `protected` into the kept records, so it would be lost."""
    if sources:
        repository, digest = next(iter(sources))
        raise ValueError(f"the protected image {repository}@{digest} is not among the plan's kept images")


def summary_totals(repositories: Sequence[RepositorySummary]) -> dict[str, Any]:
    """The totals over all repositories (derived, so `loads` can check them)."""
    kept: dict[str, int] = {}
    for summary in repositories:
        for reason, count in summary.kept.items():
            kept[str(reason)] = kept.get(str(reason), 0) + count
    reclaimed = sum(s.bytes_reclaimed for s in repositories)
    return {
        "images_scanned": sum(s.scanned for s in repositories),
        "images_kept": sum(kept.values()),
        "kept_by_reason": kept,
        "images_deleted": sum(s.deleted for s in repositories),
        "images_archived": sum(s.archived for s in repositories),
        "bytes_reclaimed": reclaimed,
        "estimated_monthly_saving_usd": str(monthly_saving_usd(reclaimed)),
    }


def _repository_summary(summary: RepositorySummary) -> dict[str, Any]:
    return {
        "repository": summary.repository,
        "policy": summary.policy,
        "scanned": summary.scanned,
        "kept": {str(reason): count for reason, count in summary.kept.items()},
        "deleted": summary.deleted,
        "archived": summary.archived,
        "bytes_reclaimed": summary.bytes_reclaimed,
        "delete_repository": summary.delete_repository,
    }


class ActionRecord(msgspec.Struct, rename="camel", gc=False):
    """An action's record (an element of `actions`), as `writer_record` writes it: keys in the camelCase
    of the file, sorted (the fields are in that order, so they may be given by position)."""

    action: Action
    image_digest: str
    image_tags: tuple[str, ...]
    """Sorted."""
    last_pulled_at: datetime | str | None
    """See `timestamp`."""
    media_type: str
    parent: str | None
    policy: str
    pushed_at: datetime | str
    """See `timestamp`."""
    reason: Reason
    repository: str
    size_bytes: int


class KeptRecord(msgspec.Struct, rename="camel", gc=False):
    """A kept image's record (an element of `kept`): an action's fields but `action`, the evidence (see
    planfile.evidence) and the sources of an in-use one (sorted; [] for any other)."""

    evidence: list[Any] | None
    image_digest: str
    image_tags: tuple[str, ...]
    last_pulled_at: datetime | str | None
    media_type: str
    parent: str | None
    policy: str
    pushed_at: datetime | str
    reason: Reason
    repository: str
    size_bytes: int
    sources: list[str]


class Pictured(Protocol):
    """What a record says of an image besides its decision: an `Image` (a plan being made) or a
    `PlannedAction` (a plan in memory) both have it."""

    @property
    def repository(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def pushed_at(self) -> datetime: ...
    @property
    def last_pulled_at(self) -> datetime | None: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def media_type(self) -> str: ...


class Decided(Protocol):
    """What a record says of an image's decision: a `Decision` (a plan being made) or a `PlannedAction`."""

    @property
    def action(self) -> Action: ...
    @property
    def reason(self) -> Reason: ...
    @property
    def parent(self) -> str | None: ...
    @property
    def evidence(self) -> Evidence | None: ...


def kept_record(image: PlannedAction, sources: tuple[str, ...]) -> KeptRecord:
    """The record of a kept image of a plan (`image.tags` sorted)."""
    return kept(image, image, image.tags, image.policy, sources)


def kept(
    image: Pictured, decided: Decided, tags: tuple[str, ...], policy: str, sources: Iterable[str]
) -> KeptRecord:
    """The record of a kept image: its `tags` sorted, why it is kept, who uses it (in any order)."""
    pulled = image.last_pulled_at
    return KeptRecord(
        evidence.encode(decided.evidence),
        image.digest,
        tags,
        None if pulled is None else timestamp(pulled),
        image.media_type,
        decided.parent,
        policy,
        timestamp(image.pushed_at),
        decided.reason,
        image.repository,
        image.size_bytes,
        sorted(sources),
    )


def action_record(action: PlannedAction) -> ActionRecord:
    """The record of an action of a plan (`action.tags` sorted)."""
    return removal(action, action, action.tags, action.policy, action.parent)


def removal(
    image: Pictured, decided: Decided, tags: tuple[str, ...], policy: str, parent: str | None
) -> ActionRecord:
    """The record of an image deleted or archived: its `tags` sorted, its `parent` (`decided.parent`, read
    by the caller: a `Decision` computes it)."""
    pulled = image.last_pulled_at
    return ActionRecord(
        decided.action,
        image.digest,
        tags,
        None if pulled is None else timestamp(pulled),
        image.media_type,
        parent,
        policy,
        timestamp(image.pushed_at),
        decided.reason,
        image.repository,
        image.size_bytes,
    )


def _plain(value: Any) -> Any:
    """Mappings and tuples as dicts and lists, so a policy document serialises and compares as JSON."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# The image lists are written one compact record per line: a pull request's diff then reads one line per
# image. Each record is encoded once: the file's line and the hashed text (compact too) share its bytes.
_ONE_LINE_EACH = {("actions",), ("kept",), ("columns",), ("summary", "repositories")}
_ON_THE_WAY = {path[:n] for path in _ONE_LINE_EACH for n in range(len(path))}
_compact = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_pretty = json.JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode
_BATCH, _BATCH_BYTES = 1024, 2**18  # records encoded, joined and written at a time (see _batch)
_HASH_KEY = "content_sha256"
_HASH_SLOT = b"0" * 64
# (file piece, hashed piece): the file's bytes and the compact bytes the content hash is taken of, side by
# side. A file piece of None is the slot of the hash itself, which only the file has.
_Piece = tuple[bytes | None, bytes]


def _json_record(value: Any) -> bytes:
    return _compact(value).encode("utf-8")


# msgspec writes the records this module builds (`action_record`, `kept_record`, `_repository_summary`,
# `columns.encode_repository`) as the hash recipe's json.dumps does, about 5x faster: the same escapes
# (only `"`, `\\` and the control characters, as \uXXXX except \b \t \n \f \r), UTF-8 for the rest,
# keys sorted by code point (UTF-8 byte order is code point order), integers of any size, tuples as arrays,
# and a UTC datetime as format_timestamp writes it (`timestamp` hands it only those). A record holds no
# float (their shortest forms differ: json 1e+16, msgspec 1e16). tests/test_planfile_msgspec.py checks it.
_writer = msgspec.json.Encoder(order="sorted")
writer_record = _writer.encode
writer_lines = _writer.encode_lines
"""Records one a line, each followed by a newline (`Spool` blobs)."""


def timestamp(moment: datetime) -> datetime | str:
    """`moment` for a record: a UTC datetime as it is (msgspec writes `format_timestamp`'s text), else that
    text."""
    return moment if moment.tzinfo is UTC else format_timestamp(moment)


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


def _batch(items: Iterator[Any], record: Callable[[Any], bytes]) -> list[bytes]:
    """The next records of `items`, encoded: up to _BATCH records or _BATCH_BYTES (a columns record holds
    a whole repository), so that joining them for the file and for the hash copies little."""
    batch: list[bytes] = []
    size = 0
    for item in items:
        batch.append(encoded := item if isinstance(item, bytes) else record(item))  # bytes: a spool's
        size += len(encoded)
        if len(batch) == _BATCH or size >= _BATCH_BYTES:
            break
    return batch


def _pieces(
    value: Any, path: tuple[str, ...], indent: str, record: Callable[[Any], bytes]
) -> Iterator[_Piece]:
    """`value` at `path` of the document as (file piece, hashed piece) pairs; the file pretty at `indent`."""
    inner = indent + "  "
    # A hand-made document may hold anything anywhere: only a list (or our writer's iterable) is written
    # one element a line, only an object key by key; the hash is the recipe's either way.
    if path in _ONE_LINE_EACH and not isinstance(value, str | int | float | Mapping | None):
        yield b"[", b"["
        items = iter(value)
        between = f",\n{inner}".encode()
        first = True
        while batch := _batch(items, record):
            lines, compact = between.join(batch), b",".join(batch)
            yield (f"\n{inner}".encode() + lines, compact) if first else (between + lines, b"," + compact)
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
