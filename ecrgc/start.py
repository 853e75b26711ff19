"""A process's start without the cyclic collector (issue 14).

A plan's start (its imports, botocore's loaded models, the clients) allocates some 300,000 objects that live
as long as the process, and the collector traversed them again and again: ~40 young collections and a few
older ones, ~19 M instructions of a 1,000-image plan's 1,240 M (callgrind). `starting` runs a start with the
collector off and then freezes what it made (`gc.freeze`): the collector never traverses it again, and it is
still freed as usual when nothing refers to it any more. Only in ecrgc's own processes (`own`: the console
script, a plan's worker): a frozen object that becomes cyclic garbage is never collected, which a test runner
calling the commands in its own process, with its earlier tests' garbage, must not be left with.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_own = {"process": False}


def own() -> None:
    """This process is ecrgc's own (`ecrgc.cli.main`, a plan's worker): `starting` manages its collector."""
    _own["process"] = True


@contextmanager
def starting() -> Iterator[None]:
    """The enclosed start made with the cyclic collector off, then frozen (in ecrgc's own process only)."""
    if not _own["process"] or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
