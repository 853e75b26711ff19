"""A sandbox served from its own process, so that a benchmark measures the client alone (the sandbox's
threads do not compete for the client's GIL), driven through a request/answer pipe."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any


class SandboxClient:
    """The benchmark's handle on the sandbox process: its environment and a request/answer pipe."""

    def __init__(self, pipe: Connection, environ: Mapping[str, str], pid: int) -> None:
        self.pipe, self.environ, self.pid = pipe, dict(environ), pid

    def cpu_s(self) -> float:
        """CPU seconds (user + system, every thread) the sandbox process has used so far: the sandbox shares
        the machine's cores with what is measured, so a benchmark reports what it took meanwhile."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (proc(5))

    def ask(self, *command: object) -> Any:
        self.pipe.send(command)
        return self.pipe.recv()


@contextmanager
def served(serve: Callable[[Connection, Any], None], scale: Any) -> Iterator[SandboxClient]:
    """Run `serve(pipe, scale)` in a spawned process until the block ends; it first sends its environment,
    then answers each command until it receives ("stop",)."""
    context = get_context("spawn")
    mine, theirs = context.Pipe()
    process = context.Process(target=serve, args=(theirs, scale), name="ecr-sandbox")
    process.start()
    assert process.pid is not None  # set by start()
    try:
        yield SandboxClient(mine, mine.recv(), process.pid)
    finally:
        mine.send(("stop",))
        process.join()
