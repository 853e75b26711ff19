"""Run the installed `ecrgc` as a person at a terminal would: stdin, stdout and stderr on a pseudo-terminal
of a given size, answering a prompt when it appears."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_in_terminal(
    argv: Sequence[str | Path],
    *,
    cwd: Path,
    env: Mapping[str, str],
    prompt: str = "",
    answer: str = "",
    columns: int = 120,
    timeout: float = 120,
) -> tuple[int, str]:
    """The exit code and everything the terminal showed; `answer` (and Enter) is typed once `prompt` shows."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        [str(a) for a in argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env={**env, "TERM": "xterm-256color", "COLUMNS": str(columns)},
        start_new_session=True,
    )
    os.close(slave)
    shown, answered, deadline = b"", not prompt, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if not answered and prompt.encode() in shown:
                os.write(master, answer.encode() + b"\r")
                answered = True
            if process.poll() is not None and not ready:
                break
        return process.wait(timeout=max(deadline - time.monotonic(), 1)), shown.decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
