"""Progress on stderr: a rich display on a terminal; elsewhere (CI logs, files) one plain line every few
seconds and one when a step ends, so a log shows that a long run moves without drowning in redraws. A run
that fails leaves no plain progress line of its unfinished step: its stderr is the one-line error.

A step is a name, how far it is (`done` of `total` units) and a note (`12,345 images`). Commands report
through their progress port (`commands.plan.PlanProgress`); the CLI turns each report into `update` calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

import msgspec

from ecrgc.render.markup import plural

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

PLAIN_INTERVAL = 5.0
"""Seconds between two plain lines of one step."""


class _Step(msgspec.Struct):
    total: int | None
    started: float
    shown: float
    done: int = 0
    line: str = ""
    pending: bool = True
    """The last update has not been written (plain lines)."""


class ProgressDisplay:
    """Steps on `stream`: rich bars when `terminal`, else plain lines at most every `interval` seconds."""

    def __init__(
        self,
        stream: TextIO,
        *,
        terminal: bool,
        interval: float = PLAIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream, self._interval, self._clock = stream, interval, clock
        self._steps: dict[str, _Step] = {}
        self._rich: Progress | None = _rich_progress(stream) if terminal else None
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def update(
        self, step: str, done: int = 0, total: int | None = None, *, unit: str = "", note: str = ""
    ) -> None:
        """`step` has done `done` of `total` `unit`s (a plural noun; total None: not counted). Steps may run
        at once (apply verifies one repository while it deletes another's images); any thread may call."""
        with self._lock:
            now = self._clock()
            current = self._steps.get(step)
            if current is None:
                current = self._steps[step] = _Step(total=total, started=now, shown=now)
            current.done, current.total = done, total
            current.line = f"ecrgc: {step}{_counted(current, now, unit)}{_joined(note)}"
            current.pending = True
            if self._rich is not None:
                self._update_rich(step, current, unit, note)
            elif (total is not None and done >= total) or now - current.shown >= self._interval:
                self._show(current, now)

    def end(self, step: str) -> None:
        """`step` is over (its last plain line is written if it was not yet)."""
        with self._lock:
            if step in self._steps:
                self._finish(step)

    def _show(self, step: _Step, now: float) -> None:
        step.shown, step.pending = now, False
        self._write(step.line)

    def _update_rich(self, step: str, current: _Step, unit: str, note: str) -> None:
        assert self._rich is not None
        if step not in self._tasks:
            self._tasks[step] = self._rich.add_task(step, total=current.total, unit=unit, note=note)
        self._rich.update(self._tasks[step], completed=current.done, total=current.total, note=note)

    def _finish(self, step: str) -> None:
        finished = self._steps.pop(step)
        if self._rich is not None and step in self._tasks:
            self._rich.update(self._tasks[step], completed=finished.total or 1, total=finished.total or 1)
        elif self._rich is None and finished.pending:
            self._show(finished, self._clock())

    def end_all(self) -> None:
        """Every step in progress is over."""
        for name in list(self._steps):
            self.end(name)

    def __enter__(self) -> ProgressDisplay:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:  # a failed run's error says what stopped it, not where its progress was
            self.end_all()
        if self._rich is not None:
            self._rich.stop()

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


def _joined(note: str) -> str:
    return f", {note}" if note else ""


def _counted(step: _Step, now: float, unit: str) -> str:
    """`: 120/300 repositories, 41.2 repositories/s, about 4 seconds left` (the rate once there is one)."""
    if step.total is None:
        return ""
    line = f": {step.done:,}/{step.total:,} {unit}"
    elapsed = now - step.started
    if elapsed <= 0 or not step.done:
        return line
    rate = step.done / elapsed
    line += f", {rate:,.1f} {unit}/s"
    if step.done < step.total:
        line += f", about {_duration((step.total - step.done) / rate)} left"
    return line


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else plural(rest, "second")


def _rich_progress(stream: TextIO) -> Progress:
    # rich costs ~50 ms to import: only a terminal pays for it.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        """`41.2 repositories/s`, once rich has measured a speed."""

        def render(self, task: Task) -> Text:
            unit = task.fields.get("unit", "")
            return Text(f"{task.speed:,.1f} {unit}/s" if task.speed and unit else "")

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        Rate(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stream, force_terminal=True, highlight=False),
        transient=False,
    )
