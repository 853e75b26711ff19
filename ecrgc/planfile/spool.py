"""A plan's image records, encoded as `run_plan` decides each repository and kept in a scratch file.

So a plan being made holds one repository's images at a time, not the registry's: the kept images are
never held (`Plan.kept` reads them back from here); the actions are read back from here too, once and then
held while there are at most ACTIONS_IN_MEMORY (`Held`: only when something reads them, as apply does; the
plan's summaries read only their tags, which it holds), else at each pass (`Spooled`: each pass of a view
then costs their decoding, the price of a bounded memory). The records are encoded once
(records.repository_part), in the layout the plan file will have (`columns`: the `.json.gz` layout), in
canonical order within their repository; `write_plan_file` writes them from here, repositories by name,
hashing as it writes (`write_document`): nothing is sorted or encoded twice.
"""

from __future__ import annotations

import io
import os
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import IO, Any, Literal

import msgspec

from ecrgc.model import Action, Plan, PlannedAction, ProtectedImage, Reason
from ecrgc.planfile import encode, ordering
from ecrgc.planfile.build import planned_action
from ecrgc.planfile.columns import RepositoryColumns, every_tag
from ecrgc.planfile.parts import Parts
from ecrgc.planfile.records import RepositoryPart
from ecrgc.planfile.writing import Lines

ACTIONS_IN_MEMORY = 200_000
"""A plan being made holds its actions (their tags, and the actions themselves once read) up to this many
(about 100 MB), for its views' passes."""

_Which = Literal["actions", "kept"]


class Spool:
    """One plan's image records, one repository at a time (see the module docstring)."""

    def __init__(self, *, columns: bool, file: IO[bytes] | None = None) -> None:
        """`file`: where the records go (a plan worker process's file), else a scratch file of its own."""
        self.columns = columns
        self._files: list[IO[bytes]] = []
        own = file or tempfile.TemporaryFile()  # noqa: SIM115  # closed with the spool (finalize)
        self._own = self._file_index(own)
        self._blobs: dict[str, dict[str, tuple[int, int, int]]] = {}
        """repository -> list -> (index in _files, offset, length)"""
        self.counts: dict[str, tuple[int, int]] = {}
        """repository -> (actions, kept images)"""
        self.held: Sequence[PlannedAction] | None = None
        """The actions of the plan made from this spool (in memory, or a view of the spool)."""
        self.protected: Sequence[ProtectedImage] | None = None
        """The plan's images in use (their sources are in the kept images' records)."""

    def put(self, part: RepositoryPart) -> None:
        """Store one repository's records (`records.repository_part`, encoded in this spool's layout)."""
        if part.columns != self.columns:
            raise ValueError(f"repository {part.name} is encoded in the other layout")
        if part.name in self.counts:
            raise ValueError(f"repository {part.name} is spooled twice")
        if not any(part.counts):
            return
        self.counts[part.name] = part.counts
        file = self._files[self._own]
        for which, blob in part.blobs.items():
            offset = file.seek(0, os.SEEK_END)
            file.write(blob)
            self._blobs.setdefault(part.name, {})[which] = (self._own, offset, len(blob))
        file.flush()

    def where(self, name: str) -> SpoolPart:
        """Where repository `name`'s records are in this spool's file, for another spool to `adopt`."""
        blobs = {which: (offset, length) for which, (_, offset, length) in self._blobs[name].items()}
        return SpoolPart(name=name, counts=self.counts[name], blobs=blobs)

    def adopt(self, file: IO[bytes], part: SpoolPart) -> None:
        """Take in a repository another spool put into `file` (a plan worker process's: the records stay
        there, read from it as from this spool's own file)."""
        if part.name in self.counts:
            raise ValueError(f"repository {part.name} is spooled twice")
        self.counts[part.name] = part.counts
        index = self._file_index(file)
        self._blobs[part.name] = {w: (index, offset, size) for w, (offset, size) in part.blobs.items()}

    def _file_index(self, file: IO[bytes]) -> int:
        if file not in self._files:
            self._files.append(file)
            weakref.finalize(self, file.close)
        return self._files.index(file)

    def _read(self, name: str, which: str) -> bytes:
        index, offset, length = self._blobs[name][which]
        return os.pread(self._files[index].fileno(), length, offset)

    def records(self, which: str) -> Iterator[Lines]:
        """The encoded records of the file's list `which` (actions, kept, columns), a repository's at a
        time, repositories by name."""
        for name in sorted(self._blobs):
            if which in self._blobs[name]:
                yield Lines(self._read(name, which))

    def document(self, plan: Plan) -> dict[str, Any]:
        """The document of canonical `plan` (made from this spool) for `write_document`."""
        if self.columns:
            return {**encode.header(plan), "columns": self.records("columns")}
        return {**encode.header(plan), "actions": self.records("actions"), "kept": self.records("kept")}

    def tags(self, name: str, which: _Which) -> list[str]:
        """Every tag of the actions or kept images of repository `name`, in order, decoding only them."""
        actions, kept = self.counts[name]
        if not (actions if which == "actions" else kept):
            return []
        if self.columns:
            cells = _COLUMN_TAGS.decode(self._read(name, "columns")).image_tags
            rows = cells[:actions] if which == "actions" else cells[actions:]
            return every_tag(rows)
        return [t for record in _RECORD_TAGS.decode_lines(self._read(name, which)) for t in record.image_tags]

    def images(self, name: str, which: _Which) -> Iterator[PlannedAction]:
        """The actions or kept images of repository `name`, built from their records."""
        actions, kept = self.counts[name]
        if not (actions if which == "actions" else kept):
            return
        if self.columns:
            columns = RepositoryColumns(msgspec.json.decode(self._read(name, "columns")), name)
            rows = range(actions) if which == "actions" else range(actions, actions + kept)
            yield from map(columns.record, rows)
            return
        if which == "actions":  # our own records: typed, decoded at once (no dict per record)
            for r in _ACTIONS.decode_lines(self._read(name, which)):
                yield PlannedAction(
                    repository=r.repository,
                    digest=r.image_digest,
                    tags=r.image_tags,
                    pushed_at=r.pushed_at,
                    last_pulled_at=r.last_pulled_at,
                    size_bytes=r.size_bytes,
                    media_type=r.media_type,
                    action=r.action,
                    reason=r.reason,
                    parent=r.parent,
                    policy=r.policy,
                )
            return
        for line in _lines(self._read(name, which)):
            yield planned_action(msgspec.json.decode(line), name)


class SpoolPart(msgspec.Struct, frozen=True, kw_only=True):
    """Where one repository's records are in a spool's file: `counts` (actions, kept images), and each
    list's (offset, length) there."""

    name: str
    counts: tuple[int, int]
    blobs: Mapping[str, tuple[int, int]]


class _RecordTags(msgspec.Struct, rename="camel"):
    """What `Spool.tags` decodes of a record (msgspec skips the rest)."""

    image_tags: list[str]


class _ColumnTags(msgspec.Struct, rename="camel"):
    """What `Spool.tags` decodes of a repository's columns: a row's tags, the one tag or none."""

    image_tags: list[str | list[str] | None]


class _Action(msgspec.Struct, rename="camel", gc=False):
    """An action's record as `Spool.images` decodes it (what `encode.ActionRecord` wrote)."""

    action: Action
    image_digest: str
    image_tags: tuple[str, ...]
    last_pulled_at: datetime | None
    media_type: str
    parent: str | None
    policy: str
    pushed_at: datetime
    reason: Reason
    repository: str
    size_bytes: int


_RECORD_TAGS = msgspec.json.Decoder(_RecordTags)
_ACTIONS = msgspec.json.Decoder(_Action)
_COLUMN_TAGS = msgspec.json.Decoder(_ColumnTags)


def _lines(blob: bytes) -> Iterator[bytes]:
    """The records of a blob, one at a time (not a list of a repository's records at once)."""
    for line in io.BytesIO(blob):
        yield line.rstrip(b"\n")


def spool_of(plan: Plan) -> Spool | None:
    """The spool `plan` was made from, when its image lists are still the spool's own."""
    kept = plan.kept
    if not isinstance(kept, Spooled):
        return None
    spool = kept.spool
    own = plan.actions is spool.held and plan.protected is spool.protected
    return spool if own else None


class _FromSpool(Parts, ordering.Canonical[PlannedAction]):
    """The actions or kept images of a spooled plan, in canonical order, built from its records."""

    def __init__(self, spool: Spool, which: _Which) -> None:
        self.spool, self._which = spool, which
        index = 0 if which == "actions" else 1
        self._names = [name for name in sorted(spool.counts) if spool.counts[name][index]]
        super().__init__(spool.counts[name][index] for name in self._names)

    def _images(self, part: int, offset: int) -> Iterator[PlannedAction]:
        return islice(self.spool.images(self._names[part], self._which), offset, None)

    def _repository(self, part: int) -> str:
        return self._names[part]

    def tags_by_repository(self) -> Iterator[tuple[str, list[str]]]:
        """Each repository of these images with every tag they carry (what a view's warnings read),
        without building a record per image."""
        for name in self._names:
            yield name, self.spool.tags(name, self._which)


class Spooled(_FromSpool):
    """The actions or kept images of a spooled plan, built each time they are read (none held)."""

    def __repr__(self) -> str:
        return f"Spooled({self._len} {self._which})"


class Held(_FromSpool):
    """The actions of a plan being made that holds them (at most ACTIONS_IN_MEMORY): their tags in memory
    (`tags`: repository -> every tag of its actions, in order), which is all the plan's summaries read, and
    each repository's actions built from the spool's records the first time they are read, then held (a
    view's or apply's later passes do not decode them again)."""

    def __init__(self, spool: Spool, tags: Mapping[str, list[str]]) -> None:
        super().__init__(spool, "actions")
        self._tags = tags
        self._held: dict[int, tuple[PlannedAction, ...]] = {}

    def _images(self, part: int, offset: int) -> Iterator[PlannedAction]:
        images = self._held.get(part)
        if images is None:
            images = self._held[part] = tuple(super()._images(part, 0))
        return islice(images, offset, None)

    def tags_by_repository(self) -> Iterator[tuple[str, list[str]]]:
        for name in self._names:
            yield name, self._tags[name]

    def __repr__(self) -> str:
        return f"Held({self._len} actions)"
