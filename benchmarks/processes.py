"""What the real-time benchmark reads of its processes from ``/proc``: when one started, whether
it still runs, its CPU time, and the workers left running after their server ended."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def left_running(workers: set[tuple[int, int]], seconds: float = 30) -> int:
    """How many of ``workers`` (pid, start time: workers of servers that ended) still run after
    ``seconds``; each is then killed, so that it does not load the machine (and later runs)."""
    deadline, left = time.perf_counter() + seconds, 0
    for pid, start in sorted(workers):
        while _running(pid, start) and time.perf_counter() < deadline:
            time.sleep(0.1)
        if _running(pid, start):
            left += 1
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                os.kill(pid, signal.SIGKILL)
    return left


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/pid/stat`` after the command name (state first), or ``None``."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks after boot), ``None`` if it has ended."""
    fields = _stat(pid)
    return None if fields is None else int(fields[19])  # field 22 of the whole line


def _running(pid: int, start: int) -> bool:
    fields = _stat(pid)
    # the same process (not another one given its pid since), and not a zombie: that has ended
    return fields is not None and int(fields[19]) == start and fields[0] != "Z"


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a running process (0 once it is gone)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
