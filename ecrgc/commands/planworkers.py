"""`ecrgc plan` on every core: repositories scanned, decided and encoded in worker processes.

One process has one GIL, and a plan's scanning, deciding and encoding are CPU-bound (issue 14). The work is
per repository, so the main process plans some repositories itself and hands the others' names to worker
processes, from one list (`_Names`), one more each time one of a worker's repositories is complete (a large
repository holds back no other). A worker runs the whole per-repository pipeline: its own `Registry`
(unpickled from the main process's: its own clients, the same credentials) scanning with its share of
the scan threads, then `run_plan`'s job (decide, then encode the records into the worker's own spool
file). Over its socket go only names, the job's small result (a
summary, the images in use) and where the records are in the worker's file (`SpoolPart`): the main
process's spool reads them from there, as from its own file. A thread of the main process serves the
workers (`Workers._serve`) while its main thread plans its own share.

Each worker is a fresh interpreter (`python -P -c`, `_WORKER`), told over its socket the main process's
`sys.path` and then what to plan with. Not `fork`: it copies a process whose threads (a progress display,
botocore's) may hold locks; not `forkserver`: it forks the workers from a server holding the environment
and working directory of its own start, and their CPU escapes the main process's accounting (they are
the server's); not multiprocessing's `spawn`, which also starts its resource tracker (a process of
~12 MB, for semaphores a plan has none of) and imports the main module again in each worker (the
console script's: the whole CLI). A worker is in a process group of its own, so a terminal's Ctrl-C
reaches the main process alone, which stops the workers. The main process starts them before it reads
what is in use, so their start (an interpreter, the imports and its clients, ~0.5 s of CPU each) overlaps
it.

Fail closed, as one process does: a worker's error (an unreadable registry, a refusal of `decide`)
comes back and is raised as it is, by the main process; a worker that dies stops the plan
(`WorkerDied`); the main process stopping for any reason (an error, Ctrl-C) terminates every worker first.
A worker whose main process is gone finds its socket closed and stops too.
"""

from __future__ import annotations

import gc
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Protocol, Self, TypeVar, runtime_checkable

import msgspec

from ecrgc import start
from ecrgc.errors import SourceUnavailable
from ecrgc.model import Repository
from ecrgc.planfile.spool import Spool, SpoolPart

if TYPE_CHECKING:  # imported where workers start (multiprocessing, ~7 ms): a plan in one process has none
    from multiprocessing.connection import Connection

_WORKER: Final = "import sys; from ecrgc.commands.planworkers import main; main(int(sys.argv[1]))"
"""What a worker process runs (`python -P -c`: no working directory on its path), its socket's fd given."""

REPOSITORIES_PER_PROCESS = 500
"""With the process count left to ecrgc (`ecrgc plan`'s default), a plan uses one process per this many
repositories at most (up to the CPUs it may use): a small registry is planned in one process, paying for
no interpreter start. The repository count is what the listing knows before the scan. Measured on this
2-core machine shared with the sandbox (1 against 2 processes, wall): 200 repositories / 100,000 images
5.1-5.6 s against 6.0-8.7 s (a worker's start and its share of the cores cost more than it gains); 1,000 /
500,000 21.6-26.6 s against 16.8-26.4 s; 2,000 / 1,000,000 38 s against 28 s."""

T = TypeVar("T")


@runtime_checkable
class Scanner(Protocol):
    """What a worker needs from its registry (`ecrgc.aws.Registry`, pickled into the worker): `workers`,
    the repositories it scans at once (shared among the workers)."""

    @property
    def workers(self) -> int: ...

    def scan(self, names: Iterable[str], *, workers: int | None = None) -> Iterator[Repository]: ...


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity: a container's or a CI runner's share)."""
    return len(os.sched_getaffinity(0))


def process_count(requested: int | None, repositories: int) -> int:
    """How many processes plan `repositories`: `requested` (None: as many as the CPUs this process may use,
    with REPOSITORIES_PER_PROCESS each at least), never more than there are repositories; 1 is the main
    process alone."""
    wanted = usable_cpus() if requested is None else requested
    most = repositories // REPOSITORIES_PER_PROCESS if requested is None else repositories
    return max(1, min(wanted, most))


class WorkerDied(SourceUnavailable):
    """A worker process ended before its repositories were planned (killed, out of memory)."""


class _Names:
    """Repository names that several threads take from, each name once (a worker's, and the main
    process's own scan)."""

    def __init__(self, names: Iterable[str]) -> None:
        self._names = iter(names)
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        with self._lock:
            return next(self._names)


class _Worker(msgspec.Struct, eq=False):
    process: subprocess.Popen[bytes]
    conn: Connection
    path: Path
    threads: int
    file: IO[bytes] | None = None
    exhausted: bool = False
    """No more names for it: it was sent None."""


class Workers:
    """`count` worker processes, each scanning with `inventory` (see the module docstring); a context
    manager: leaving it terminates and reaps every worker, stops the thread serving them and removes
    their files' directory. The scan threads (`inventory.workers`) are shared among the workers and the
    main process (`threads`: its share)."""

    def __init__(self, count: int, inventory: Scanner, columns: bool) -> None:
        self.count, self.inventory, self.columns = count, inventory, columns
        self._workers: list[_Worker] = []
        self._directory = Path(tempfile.mkdtemp(prefix="ecrgc-plan-"))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def threads(self) -> int:
        """The main process's share of the scan threads."""
        return self._share(self.count)

    def _share(self, index: int) -> int:
        total, processes = self.inventory.workers, self.count + 1
        return max(1, total // processes + (index < total % processes))

    def __enter__(self) -> Self:
        from multiprocessing.connection import Connection  # noqa: PLC0415  # see TYPE_CHECKING above

        try:
            for index in range(self.count):
                mine, theirs = socket.socketpair()
                with theirs:  # closed here once the worker has it: its death reads as the end of the socket
                    process = subprocess.Popen(
                        [sys.executable, "-P", "-c", _WORKER, str(theirs.fileno())],
                        stdin=subprocess.DEVNULL,
                        pass_fds=(theirs.fileno(),),
                        process_group=0,  # not in the terminal's foreground group: Ctrl-C is ours
                    )
                path, share = self._directory / f"part-{index}", self._share(index)
                worker = _Worker(process=process, conn=Connection(mine.detach()), path=path, threads=share)
                self._workers.append(worker)
                _send(worker, sys.path)  # first: where the worker finds the classes the rest pickles
                _send(worker, (self.inventory, share, path, self.columns, gc.get_threshold()))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        for worker in self._workers:
            if worker.process.poll() is None:
                worker.process.terminate()  # the serving thread then reads the end of its socket
        for worker in self._workers:
            worker.process.wait()
        if self._thread is not None:
            self._thread.join()
        for worker in self._workers:
            worker.conn.close()
        shutil.rmtree(self._directory, ignore_errors=True)  # the files adopted stay open in the spool

    def plan(
        self,
        names: Iterable[str],
        job: Callable[[Repository, Spool], T],
        here: Callable[[Repository], None],
        take: Callable[[T, IO[bytes], SpoolPart | None], None],
    ) -> None:
        """Plan the repositories of `names`, each once: the workers some, with `job` (served from a thread
        of this process that calls `take` with each result, the worker's file and where its records are
        there), and this thread the others (`here` is called with each, scanned with `threads`). The
        first failure of a worker (or of `take`) is raised here."""
        todo = _Names(names)
        self._thread = threading.Thread(
            target=self._serve, args=(job, todo, take), name="ecrgc-plan-workers", daemon=True
        )
        self._thread.start()
        for repository in self.inventory.scan(todo, workers=self.threads):
            self._check()
            here(repository)
        self._thread.join()
        self._check()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def _serve(
        self,
        job: Callable[[Repository, Spool], T],
        names: _Names,
        take: Callable[[T, IO[bytes], SpoolPart | None], None],
    ) -> None:
        try:
            self._run(job, names, take)
        except BaseException as error:  # noqa: BLE001  # raised in the main thread (check, finish)
            self._error = error

    def _run(
        self,
        job: Callable[[Repository, Spool], T],
        todo: _Names,
        take: Callable[[T, IO[bytes], SpoolPart | None], None],
    ) -> None:
        from multiprocessing.connection import wait  # noqa: PLC0415  # see TYPE_CHECKING above

        for worker in self._workers:
            _send(worker, job)
            for _ in range(worker.threads):  # as many as it scans at once; one more per repository done
                self._hand(worker, todo)
        running = {worker.conn: worker for worker in self._workers}
        while running:
            for conn in wait(list(running)):
                worker = running[conn]  # type: ignore[index]  # wait() gives back what it was given
                message = _receive(worker)
                match message:
                    case ("part", result, part):
                        if worker.file is None:
                            worker.file = worker.path.open("rb")
                        self._hand(worker, todo)
                        take(result, worker.file, part)
                    case ("done",):
                        del running[conn]  # type: ignore[arg-type]
                    case ("failed", error):
                        raise error
                    case _:
                        raise AssertionError(f"unexpected message from a plan worker: {message!r}")

    @staticmethod
    def _hand(worker: _Worker, todo: _Names) -> None:
        if not worker.exhausted:
            name = next(todo, None)
            _send(worker, name)
            worker.exhausted = name is None


def _send(worker: _Worker, message: object) -> None:
    try:
        worker.conn.send(message)
    except OSError:  # its end of the socket is closed: it is gone
        raise _died(worker) from None


def _receive(worker: _Worker) -> Any:
    try:
        return worker.conn.recv()
    except (EOFError, OSError):  # its end of the socket closed, or reset with data unread: it is gone
        raise _died(worker) from None


def _died(worker: _Worker) -> WorkerDied:
    code = worker.process.wait()
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    return WorkerDied(
        f"a plan worker process (pid {worker.process.pid}) {how} before its repositories were planned;"
        " nothing was written: re-run ecrgc plan (plan --processes 1 plans in one process)"
    )


def main(fd: int) -> None:
    """A worker process (`_WORKER`), talking to the main process over socket `fd`: plan the repositories
    it names, until it names None."""
    from multiprocessing.connection import Connection  # noqa: PLC0415  # see TYPE_CHECKING above

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is the main process's: it terminates us
    conn = Connection(fd)
    start.own()
    try:
        with start.starting():  # its imports and clients, made as it unpickles the registry and the job
            sys.path[:] = conn.recv()
            inventory, threads, path, columns, thresholds = conn.recv()
            gc.set_threshold(*thresholds)  # the main process's (the CLI's: a plan allocates no cycles)
            job = conn.recv()
        with path.open("x+b") as file:
            spool = Spool(columns=columns, file=file)
            for repository in inventory.scan(_names(conn), workers=threads):
                result = job(repository, spool)
                part = spool.where(repository.name) if repository.name in spool.counts else None
                conn.send(("part", result, part))
        conn.send(("done",))
    except Exception as error:  # noqa: BLE001  # every failure goes back to the main process, which raises it
        _report(conn, error)
    gc.freeze()  # its exit walks no object left, as the CLI's does (`ecrgc.cli.main`)


def _names(conn: Connection) -> Iterator[str]:
    while (name := conn.recv()) is not None:
        yield name


def _report(conn: Connection, error: Exception) -> None:
    """Send `error` to the main process; if it is gone (the socket is closed), there is no one to tell."""
    try:
        conn.send(("failed", error))
    except OSError:
        return
    except Exception:  # noqa: BLE001  # an error that does not pickle goes back as its type and message
        conn.send(("failed", RuntimeError(f"{type(error).__name__}: {error}")))
