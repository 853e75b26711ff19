"""An insertion-ordered index with stable cursors, so that a page of N costs O(N) whatever the size.

Keys are appended with an increasing sequence number; removal only forgets the key (the slot turns stale)
and the lists are compacted once half of them is stale, so both stay amortised O(1). A cursor is a sequence
number: `iter_from(seq)` bisects to it, which survives removals and re-insertions between two pages.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Generic, TypeVar

K = TypeVar("K")

_COMPACT_FLOOR = 1024


class CursorIndex(Generic[K]):
    """Keys in insertion order; a re-inserted key moves to the end. Not thread-safe: callers hold a lock."""

    def __init__(self) -> None:
        self._keys: list[K] = []
        self._seqs: list[int] = []
        self._live: dict[K, int] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._live)

    def add(self, key: K) -> int:
        """Append `key` (moving it to the end if present) and return its sequence number."""
        seq = self._next
        self._next += 1
        self._keys.append(key)
        self._seqs.append(seq)
        self._live[key] = seq
        return seq

    def discard(self, key: K) -> None:
        """Forget `key`; its slot is reclaimed by a later compaction."""
        if self._live.pop(key, None) is None:
            return
        stale = len(self._keys) - len(self._live)
        if stale > _COMPACT_FLOOR and stale * 2 > len(self._keys):
            self._compact()

    def iter_from(self, seq: int = 0) -> Iterator[tuple[int, K]]:
        """Live `(seq, key)` pairs from sequence number `seq` on, in insertion order."""
        keys, seqs, live = self._keys, self._seqs, self._live
        for position in range(bisect_left(seqs, seq), len(seqs)):
            key = keys[position]
            if live.get(key) == seqs[position]:
                yield seqs[position], key

    def _compact(self) -> None:
        pairs = [(s, k) for s, k in zip(self._seqs, self._keys, strict=True) if self._live.get(k) == s]
        self._seqs = [s for s, _ in pairs]
        self._keys = [k for _, k in pairs]

    def seq_of(self, key: K) -> int:
        """The sequence number of a live key."""
        return self._live[key]
