"""The sandbox's dials: a settable clock, fault injection, rate limits, call counters.

Every ⚠ (undocumented) behaviour of ECR that the sandbox has to pick is a knob here, with the default
documented next to it, so a test can pin the behaviour it depends on instead of trusting a guess.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class SubjectDelete(StrEnum):
    """What a manual BatchDeleteImage of an OCI subject does to its referrers (⚠ undocumented)."""

    ORPHAN = "orphan"
    """Default: the referrers stay behind, with a subject that no longer exists."""
    CASCADE = "cascade"
    """The referrers are deleted with the subject (what lifecycle expiry does)."""
    BLOCK = "block"
    """The subject is not deleted: failure ImageReferencedByManifestList while referrers exist."""


class SameCallChildren(StrEnum):
    """An index and its children in the same BatchDeleteImage call (⚠ undocumented)."""

    REJECT = "reject"
    """Default: references are checked against the state before the call, so the children fail with
    ImageReferencedByManifestList even though their index goes in the same call (the strictest reading)."""
    IN_ORDER = "in_order"
    """Items are processed in request order: a child listed after its index is deleted."""
    INDEXES_FIRST = "indexes_first"
    """The call deletes the indexes first, so the whole family goes."""


class Clock:
    """Epoch seconds that follow real time, or stand still once `set`; `advance` moves either kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = None

    def now(self) -> float:
        """The sandbox's current time, epoch seconds."""
        with self._lock:
            return self._frozen if self._frozen is not None else time.time() + self._offset

    def now_datetime(self) -> datetime:
        """The sandbox's current time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    def set(self, when: datetime | float, *, frozen: bool = True) -> None:
        """Jump to `when`; a frozen clock stays there until set or advanced again."""
        epoch = when.timestamp() if isinstance(when, datetime) else float(when)
        with self._lock:
            self._frozen = epoch if frozen else None
            self._offset = 0.0 if frozen else epoch - time.time()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (a negative value moves it back)."""
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds


class TokenBucket:
    """A classic token bucket: `rate` tokens per second, at most `burst` banked (real time, not the clock)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty (the caller answers ThrottlingException)."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True


@dataclass
class Knobs:
    """Settable at any time from Python (`sandbox.knobs.latency_ms = 5`) or from `ecrgc sandbox` flags."""

    latency_ms: float = 0.0
    """Added before every call is answered."""
    latency_ms_by_operation: dict[str, float] = field(default_factory=dict)
    """Per-operation latency, replacing `latency_ms` for that operation."""
    error_rate: float = 0.0
    """Share of calls answered with HTTP 500 ServerException (after counting, before any work)."""
    drop_rate: float = 0.0
    """Share of calls whose connection is closed without an answer."""
    seed: int = 0
    """Seed of the fault-injection random generator: the same seed injects the same faults."""
    activation_seconds: float = 20 * 60.0
    """How long a restored image stays ACTIVATING after UpdateImageStorageClass(STANDARD) (AWS: ≤ ~20 min)."""
    pull_time_refresh_seconds: float = 0.0
    """lastRecordedPullTime moves only when older than this (AWS: refreshed at least daily); 0 = always."""
    subject_delete: SubjectDelete = SubjectDelete.ORPHAN
    same_call_children: SameCallChildren = SameCallChildren.REJECT
    throttles: dict[str, TokenBucket] = field(default_factory=dict)
    """Per-operation token buckets; an empty bucket answers HTTP 400 ThrottlingException."""
    denied: set[str] = field(default_factory=set)
    """Operations IAM denies: answered HTTP 400 AccessDeniedException, as AWS answers a missing permission."""
    denied_roles: set[str] = field(default_factory=set)
    """Role ARNs that STS AssumeRole refuses (HTTP 403 AccessDenied); any other role may be assumed."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._rng_lock = threading.Lock()

    def throttle(self, operation: str, rate: float, burst: float | None = None) -> None:
        """Limit `operation` ("DescribeImages", or "*" for all operations) to `rate` calls per second."""
        self.throttles[operation] = TokenBucket(rate, burst)

    def reseed(self, seed: int) -> None:
        """Restart the fault-injection generator from `seed`."""
        with self._rng_lock:
            self.seed = seed
            self.rng = random.Random(seed)

    def roll(self, rate: float) -> bool:
        """True with probability `rate`, drawn from the seeded generator."""
        if rate <= 0:
            return False
        with self._rng_lock:
            return self.rng.random() < rate

    def latency_for(self, operation: str) -> float:
        """Seconds to wait before answering `operation`."""
        return self.latency_ms_by_operation.get(operation, self.latency_ms) / 1000.0

    def admits(self, operation: str) -> bool:
        """False when the operation's (or the global "*") token bucket is empty."""
        for key in (operation, "*"):
            bucket = self.throttles.get(key)
            if bucket is not None and not bucket.take():
                return False
        return True


class CallCounter:
    """Per-operation counts of calls received (thread-safe); `snapshot()` for a stable copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, operation: str) -> None:
        """Count one call."""
        with self._lock:
            self._counts[operation] += 1

    def __getitem__(self, operation: str) -> int:
        with self._lock:
            return self._counts[operation]

    def snapshot(self) -> Counter[str]:
        """A copy of the counts."""
        with self._lock:
            return Counter(self._counts)

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()

    def total(self) -> int:
        """Calls received, all operations together."""
        with self._lock:
            return sum(self._counts.values())
