"""Files that survive crashes whole, and the writer lock of a folder of them (the ingested store's
building blocks)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as the bytes of a Parquet file."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def write_durably(path: Path, data: bytes) -> None:
    """Write ``path`` so that after return it survives a crash whole, and never half-written."""
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


@contextmanager
def writer_lock(lock_file: Path) -> Iterator[None]:
    """Hold the lock ``lock_file`` stands for, across threads and processes (``flock``), and
    re-entrant within the thread holding it, whichever object takes it again."""
    held = _holder(lock_file)
    with held.thread_lock:
        if held.depth:
            held.depth += 1
            try:
                yield
            finally:
                held.depth -= 1
            return
        with lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            held.depth = 1
            try:
                yield
            finally:
                held.depth = 0
                fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Holder:
    """This process's hold on one lock: the thread holding it, and how deeply."""

    thread_lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0


_HOLDERS: dict[Path, _Holder] = {}
_HOLDERS_LOCK = threading.Lock()


def _holder(lock_file: Path) -> _Holder:
    with _HOLDERS_LOCK:
        return _HOLDERS.setdefault(lock_file.resolve(), _Holder())
