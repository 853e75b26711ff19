"""The columns layout of a plan (`.json.gz`): each repository's images as column arrays.

Row n of every column of a repository is one image: the images deleted or archived first (the actions'
order), then the kept ones (by digest). What each choice buys, in gzip bytes per deletion of a
100,000-deletion plan over 200 repositories (tests/bench/bench_planfile.py measures 1,000,000): one JSON
record per image 59.6; the same values as columns (no key names per image) 56.1; timestamps as integer
microseconds 54.4; media types interned per repository, actions and reasons as codes 53.7; digests as
base64 (43 characters, no padding) instead of `sha256:` + hex 50.2; the digests of a repository as one
string (no quotes and commas per image; in memory one string, not a million) 49.0. A parent is the row it
is in its repository, not its digest (34 bytes saved per child: the platforms of a multi-arch image). Tags
are not interned (they are mostly unique per image: nothing to gain); a row's tags are null, the one tag or
an array (in memory: no empty list per untagged image), and `sources` has an entry only for the rows kept
in use.

Codes are positions in the schema's `$defs.actionCodes` and `$defs.reasonCodes` (one source of truth).
A loaded plan keeps the parsed columns as they are (strings and small ints) and builds a `PlannedAction`
only when one is read (`Rows`), so 1,000,000 images cost about 300 bytes each, not 2 KiB.
"""

from __future__ import annotations

import base64
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import chain, compress, count, repeat
from typing import Any

from ecrgc.errors import ConfigError
from ecrgc.model import Action, Evidence, Plan, PlannedAction, ProtectedImage, Reason
from ecrgc.planfile import evidence
from ecrgc.planfile.encode import Decided, Pictured, header, sources_of, unclaimed
from ecrgc.planfile.parts import Parts
from ecrgc.schemafiles import load_schema

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@cache
def codes() -> tuple[tuple[Action, ...], tuple[Reason, ...]]:
    """The action and reason codes: code n is the n-th value of the schema's table."""
    definitions = load_schema("plan.schema.json")["$defs"]
    return (
        tuple(Action(a) for a in definitions["actionCodes"]["enum"]),
        tuple(Reason(r) for r in definitions["reasonCodes"]["enum"]),
    )


def micros(moment: datetime) -> int:
    """`moment` as integer microseconds since the epoch (exact, unlike `timestamp()`)."""
    return (moment - EPOCH) // _MICROSECOND


def digest_base64(digest: str) -> str:
    return base64.b64encode(bytes.fromhex(digest.removeprefix("sha256:"))).decode("ascii")[:-1]


def digests_base64(digests: Sequence[str]) -> str:
    """`digest_base64` of each of `digests`, concatenated, in one conversion for them all: a digest's 32
    bytes and a zero byte are 44 base64 characters, its own 43 (the last one's low bits are the zero
    byte's, as padding's are) and an "A" dropped. Anything but `sha256:` and 64 hex digits goes one by one."""
    if set(map(len, digests)) <= {71} and all(map(str.startswith, digests, repeat("sha256:"))):
        packed = bytes.fromhex("00".join([d[7:] for d in digests]) + "00")
        if len(packed) == 33 * len(digests):  # (fromhex skips whitespace: then the rows would shift)
            text = base64.b64encode(packed).decode("ascii")
            return "".join([text[n : n + _DIGEST] for n in range(0, len(text), _DIGEST + 1)])
    return "".join(map(digest_base64, digests))


def _digest(encoded: str) -> str:
    return "sha256:" + base64.b64decode(encoded + "=").hex()


def document(plan: Plan) -> dict[str, Any]:
    """The columns layout of a canonical `plan`, without its content hash, for `write_document`."""
    return {**header(plan), "columns": _repositories(plan)}


def _repositories(plan: Plan) -> Iterator[dict[str, Any]]:
    """Each repository's columns, by name (the canonical plan lists actions and kept images by repository)."""
    sources: dict[str, dict[str, tuple[str, ...]]] = {}
    for (repository, digest), names in sources_of(plan).items():
        sources.setdefault(repository, {})[digest] = names
    removed, kept = _grouped(plan.actions), _grouped(plan.kept)
    for name in sorted(removed.keys() | kept.keys()):
        yield encode_repository(removed.get(name, []), kept.get(name, []), sources.pop(name, {}))
    unclaimed({(repository, digest): () for repository, mine in sources.items() for digest in mine})


def _grouped(images: Sequence[PlannedAction]) -> dict[str, list[PlannedAction]]:
    grouped: dict[str, list[PlannedAction]] = {}
    for image in images:
        grouped.setdefault(image.repository, []).append(image)
    return grouped


def encode_repository(
    actions: Sequence[PlannedAction], kept: Sequence[PlannedAction], sources: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    """The columns of one repository's images (`actions` and `kept` in canonical order, not both empty);
    `sources`: digest -> who uses it, for the in-use ones (each must be a kept image)."""
    rows = [*actions, *kept]
    policies = {r.policy for r in rows}
    if len(policies) != 1 or len({r.repository for r in rows}) != 1:
        raise ValueError(f"one repository, one policy: {rows[0].repository} has {sorted(policies)}")
    tags = [r.tags for r in rows]
    return repository_columns(
        rows[0].repository,
        rows[0].policy,
        images=rows,
        decided=rows,
        parents=[r.parent for r in rows],
        tags=tags,
        removed=len(actions),
        sources=sources,
    )


def repository_columns(
    name: str,
    policy: str,
    *,
    images: Sequence[Pictured],
    decided: Sequence[Decided],
    parents: Sequence[str | None],
    tags: Sequence[tuple[str, ...]],
    removed: int,
    sources: Mapping[str, Iterable[str]],
) -> dict[str, Any]:
    """The columns of repository `name`'s images (not none) under `policy`: row n is `images[n]`, decided
    `decided[n]`, its parent `parents[n]` (`decided[n].parent`, read by the caller), its tags (sorted)
    `tags[n]`; the first `removed` rows are its actions, the others its kept images, both in canonical
    order; `sources`: digest -> who uses it, for the in-use ones (each must be a kept image)."""
    unclaimed({(name, d): () for d in sources.keys() - {i.digest for i in images[removed:]}})
    action_code = {a: n for n, a in enumerate(codes()[0])}
    reason_code = {r: n for n, r in enumerate(codes()[1])}
    row_of = {r.digest: n for n, r in enumerate(images)}
    in_use = Reason.IN_USE  # read from its class once, not per image (~0.4 µs each)
    media: dict[str, int] = {}
    names: dict[str, int] = {}
    return {
        "repository": name,
        "policy": policy,
        "imageDigest": digests_base64([i.digest for i in images]),
        "imageTags": [(t[0] if len(t) == 1 else t) if t else None for t in tags],
        "pushedAt": [micros(i.pushed_at) for i in images],
        "lastPulledAt": [micros(i.last_pulled_at) if i.last_pulled_at else None for i in images],
        "sizeBytes": [i.size_bytes for i in images],
        "mediaType": [media.setdefault(i.media_type, len(media)) for i in images],
        "mediaTypes": list(media),
        "action": [action_code[d.action] for d in decided],
        "reason": [reason_code[d.reason] for d in decided],
        "parent": [_parent_code(parent, row_of) for parent in parents],
        "sources": [
            [names.setdefault(s, len(names)) for s in sorted(sources.get(i.digest, ()))]
            for i, d in zip(images, decided, strict=True)
            if d.reason is in_use
        ],
        "sourceNames": list(names),
        "evidence": [evidence.encode(d.evidence) for d in decided[removed:]],
    }


def _parent_code(parent: str | None, row_of: Mapping[str, int]) -> int | str | None:
    if parent is None:
        return None
    row = row_of.get(parent)
    return digest_base64(parent) if row is None else row


class RepositoryColumns:
    """One repository's parsed columns, checked for what the schema cannot say (lengths, codes in range)."""

    __slots__ = ("_columns", "_in_use", "name", "policy", "removed", "size")

    def __init__(self, columns: Mapping[str, Any], where: str) -> None:
        self._columns = columns
        self.name: str = columns["repository"]
        self.policy: str = columns["policy"]
        self.size = len(columns["imageDigest"]) // _DIGEST
        _check(columns, self.size, where)
        keep = codes()[0].index(Action.KEEP)
        self.removed = self.size - columns["action"].count(keep)
        # row -> its entry of `sources` (the rows kept in use, in order)
        self._in_use = dict(zip(_rows_in_use(columns["reason"]), count()))
        if len(columns["evidence"]) != self.size - self.removed:
            raise ConfigError(
                f"{where}.evidence: {len(columns['evidence'])} entries for {self.size - self.removed} kept"
                " images: the plan was edited by hand; re-run ecrgc plan"
            )
        for n in evidence.not_plain(columns["evidence"]):  # checked now, not when first read
            self._evidence(self.removed + n, f"{where}.evidence[{n}]")

    def record(self, row: int) -> PlannedAction:
        c = self._columns
        actions, reasons = codes()
        pulled = c["lastPulledAt"][row]
        return PlannedAction(
            repository=self.name,
            digest=self._digest(row),
            tags=_tags(c["imageTags"][row]),
            pushed_at=EPOCH + timedelta(microseconds=c["pushedAt"][row]),
            last_pulled_at=None if pulled is None else EPOCH + timedelta(microseconds=pulled),
            size_bytes=c["sizeBytes"][row],
            media_type=c["mediaTypes"][c["mediaType"][row]],
            action=actions[c["action"][row]],
            reason=reasons[c["reason"][row]],
            parent=self._parent(c["parent"][row]),
            policy=self.policy,
            evidence=self._evidence(row, "") if row >= self.removed else None,
        )

    def _evidence(self, row: int, where: str) -> Evidence | None:
        c = self._columns
        ordinal = self._in_use.get(row)
        sources = [c["sourceNames"][n] for n in c["sources"][ordinal]] if ordinal is not None else []
        record = {"parent": self._parent(c["parent"][row]), "sources": sorted(sources)}
        return evidence.decode(c["evidence"][row - self.removed], record, where)

    def _parent(self, code: int | str | None) -> str | None:
        if code is None:
            return None
        return _digest(code) if isinstance(code, str) else self._digest(code)

    def _digest(self, row: int) -> str:
        return _digest(self._columns["imageDigest"][row * _DIGEST : (row + 1) * _DIGEST])

    def tags(self, start: int, stop: int) -> list[str]:
        """Every tag of rows `start` to `stop`, in order, without building their records."""
        return every_tag(self._columns["imageTags"][start:stop])

    @property
    def action_codes(self) -> list[int]:
        column: list[int] = self._columns["action"]
        return column

    def protected(self) -> Iterator[ProtectedImage]:
        """The images kept in use, with their sources' names."""
        c = self._columns
        names = c["sourceNames"]
        for row, sources in zip(_rows_in_use(c["reason"]), c["sources"], strict=True):
            yield ProtectedImage(
                repository=self.name,
                digest=self._digest(row),
                tags=_tags(c["imageTags"][row]),
                sources=tuple(names[n] for n in sources),
            )


def _rows_in_use(reasons: list[int]) -> Iterator[int]:
    """The rows of the reason code in_use, in order (a million rows: the loops run in C)."""
    return compress(count(), map(operator.eq, reasons, repeat(codes()[1].index(Reason.IN_USE))))


_DIGEST = 43  # characters of base64 per digest in the imageDigest column
_COLUMNS = ("imageTags", "pushedAt", "lastPulledAt", "sizeBytes", "mediaType", "action", "reason", "parent")


def every_tag(cells: Iterable[str | list[str] | None]) -> list[str]:
    """Every tag of the `imageTags` cells of some rows, in order."""
    found: list[str] = []
    for cell in cells:
        if cell is not None:
            found.extend((cell,) if isinstance(cell, str) else cell)
    return found


def _tags(cell: str | list[str] | None) -> tuple[str, ...]:
    if cell is None:
        return ()
    return (cell,) if isinstance(cell, str) else tuple(cell)


def _check(c: Mapping[str, Any], size: int, where: str) -> None:
    def refuse(field: str, what: str) -> ConfigError:
        return ConfigError(f"{where}.{field}: {what}: the plan was edited by hand; re-run ecrgc plan")

    for name in _COLUMNS:
        if len(c[name]) != size:
            raise refuse(name, f"{len(c[name])} rows where imageDigest has {size}")
    if max(c["mediaType"], default=-1) >= len(c["mediaTypes"]):
        raise refuse("mediaType", f"a code beyond the {len(c['mediaTypes'])} mediaTypes")
    if max(chain.from_iterable(c["sources"]), default=-1) >= len(c["sourceNames"]):
        raise refuse("sources", f"a code beyond the {len(c['sourceNames'])} sourceNames")
    if max((p for p in c["parent"] if isinstance(p, int)), default=-1) >= size:
        raise refuse("parent", f"a row beyond the {size} rows")
    actions, reasons = codes()
    pairs = {(actions[a], reasons[r]) for a, r in set(zip(c["action"], c["reason"], strict=True))}
    if bad := sorted(f"{a} for {r}" for a, r in pairs if (a is Action.KEEP) != r.keeps):
        raise refuse("action", f"{bad[0]} (an image is kept exactly when its reason keeps it)")
    keep = actions.index(Action.KEEP)
    if keep in c["action"] and c["action"].count(keep) != size - c["action"].index(keep):
        raise refuse("action", "a deleted or archived image after a kept one (they come first)")
    if len(c["sources"]) != (in_use := c["reason"].count(reasons.index(Reason.IN_USE))):
        raise refuse("sources", f"{len(c['sources'])} entries for {in_use} images kept in use")


class Rows(Parts):
    """The actions (or the kept images) of a plan's repositories, in order, built as they are read."""

    def __init__(self, repositories: Sequence[RepositoryColumns], *, kept: bool) -> None:
        parts = [(r, r.removed, r.size) if kept else (r, 0, r.removed) for r in repositories]
        self._parts = [part for part in parts if part[1] < part[2]]
        super().__init__(stop - start for _, start, stop in self._parts)

    def _images(self, part: int, offset: int) -> Iterator[PlannedAction]:
        repository, start, stop = self._parts[part]
        return (repository.record(row) for row in range(start + offset, stop))

    def _repository(self, part: int) -> str:
        return self._parts[part][0].name

    def tags_by_repository(self) -> Iterator[tuple[str, list[str]]]:
        """Each repository of these images with every tag they carry (what a view's warnings read),
        without building a record per image."""
        for repository, start, stop in self._parts:
            yield repository.name, repository.tags(start, stop)

    def __repr__(self) -> str:
        return f"Rows({self._len} images)"
