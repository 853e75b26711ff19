"""The seam every in-use source sits behind, and the reader that runs them all at once, failing closed.

A source module (`ecrgc.usage.imagelists`, `ecrgc.usage.kubernetes`, ...) offers one `SourceFactory`: from
the policies it finds the sources they name (one list pattern, one cluster) as `UsageSource`s. `read_all`
reads them concurrently, each with its own deadline, and returns their union in the order given, so the
result never depends on which answered first. A source that fails, or does not answer in time, stops the
read: an unread source must never look like a source that uses nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from typing import Protocol

import msgspec

from ecrgc.errors import SourceUnavailable
from ecrgc.model import Policy, Usage

SOURCE_TIMEOUT = 900.0
"""Seconds one source may take to be read in full (a large cluster lists in minutes, not in 15)."""


class UsageSource(Protocol):
    """One thing that says which images are in use: a list file, a cluster, an account's ECS services."""

    @property
    def name(self) -> str:
        """Who this source is in messages: "image list IMG_LIST/*.txt", "kubernetes context prd"."""
        ...

    def read(self) -> Usage:
        """Every use the source records, with its provenance; raises SourceUnavailable when it cannot."""
        ...


class SourceOptions(msgspec.Struct, frozen=True, kw_only=True):
    """What the composition root knows and the policies do not: which kubeconfig."""

    kubeconfig: str | None = None


SourceFactory = Callable[[Sequence[Policy], SourceOptions], Sequence[UsageSource]]
"""A source module's registration: the sources a policy set names (each read once, however often named)."""


def read_all(sources: Sequence[UsageSource], *, timeout: float = SOURCE_TIMEOUT) -> Usage:
    """The union of every source's uses, read concurrently; the first failure or overdue source raises."""
    futures = [_start(source) for source in sources]
    deadline = time.monotonic() + timeout
    pending = set(futures)
    while pending:
        done, pending = wait(
            pending, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_EXCEPTION
        )
        for future in done:
            if (error := future.exception()) is not None:
                raise error
        if pending and not done:
            late = next(source for source, future in zip(sources, futures, strict=True) if future in pending)
            raise SourceUnavailable(
                f"{late.name}: no complete answer within {timeout:g} s; nothing may be deleted while it"
                " cannot be read (check that it is reachable, or remove it from the policy's protect)"
            )
    usage = Usage()
    for future in futures:
        usage += future.result()
    return usage


def _start(source: UsageSource) -> Future[Usage]:
    """Read `source` in a daemon thread: one that never answers must not keep the process alive."""
    future: Future[Usage] = Future()

    def run() -> None:
        try:
            future.set_result(source.read())
        except BaseException as error:  # noqa: BLE001  # handed to the waiting thread, which raises it
            future.set_exception(error)

    threading.Thread(target=run, name=f"ecrgc-usage {source.name}", daemon=True).start()
    return future
