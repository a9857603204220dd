"""The append-only store of ingested rows: Parquet segments beside the health store.

Rows that arrive after the data directory was written (``POST /v1/events``, ``vitals ingest``)
are kept as one Parquet *segment* per table and batch, typed as the data contract declares,
under ``<root>/segments/``. A batch becomes visible only when its *manifest*
(``<root>/batches/<sequence>.json``) is renamed into place: that rename is the commit. Every file
is flushed to disk (``fsync``) before it is renamed, and the folder after, so a batch that was
acknowledged survives a crash, and a crash before the manifest leaves only stray files that no
reader lists (they are swept on the next open).

Each batch is filed under the SHA-256 of its idempotency key (``<root>/keys/<hash>.json``), with
the SHA-256 of its body and its answer: a retry with the same key and body gets the first answer
again, the same key with another body is refused. One writer at a time holds the store's lock
file (``flock``), across processes, so ``vitals serve`` and ``vitals ingest`` can share a store.

A store belongs to one data directory (``<root>/BASE``): loading another directory ignores it.
Readers (:func:`vitals.features.loader.load_dataset`) append the committed segments of each table
to the directory's own rows, so every command sees the directory and the ingested rows as one
source. Runs of committed batches are folded into *ranges* (:mod:`vitals.features.compaction`,
``<root>/ranges/<last>.json``), and runs of ranges into larger ones (``<last>-<first>.json``,
which hide the ranges they fold): readers append the ranges, then the batches after the last one.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from vitals.features.ingested_files import (
    Batch,
    Range,
    range_last,
    range_manifest,
    read_ranges,
    span,
    visible_ranges,
    write_range,
)
from vitals.features.store_files import parquet_bytes, write_durably, writer_lock

__all__ = ["Batch", "CompactedAway", "IdempotencyConflict", "IngestedStore", "Range", "body_hash"]

_LOCK = ".lock"
_LISTINGS = 3  # tries to list the ranges while a merge deletes the ones it hid
_BASE = "BASE"


class IdempotencyConflict(ValueError):
    """The idempotency key was used before with a different body."""


class CompactedAway(LookupError):
    """A batch asked for was folded into a range and is gone: load the data again."""


def body_hash(body: bytes) -> str:
    """The SHA-256 of a request body, hex."""
    return hashlib.sha256(body).hexdigest()


class IngestedStore:
    """The segment store at ``root`` for the data directory ``base``.

    Args:
        root: the store's folder (created on first use).
        base: the data directory the rows extend.

    Raises:
        ValueError: ``root`` already belongs to another data directory.
    """

    def __init__(self, root: str | Path, base: str | Path) -> None:
        self.root = Path(root)
        self.base = Path(base).resolve()
        self._known = 0  # batches 1..known are committed (sequences have no gaps)
        self._probing = threading.Lock()
        for folder in ("segments", "batches", "keys", "ranges"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        marker = self.root / _BASE
        if marker.exists():
            owner = Path(marker.read_text().strip())
            if owner != self.base:
                raise ValueError(
                    f"{self.root} holds rows ingested for {owner}, not for {self.base}: "
                    "use another ingest folder for this data directory"
                )
        else:
            write_durably(marker, str(self.base).encode())
        with self.exclusive():
            self._recover()
            numbers = [int(p.stem) for p in (self.root / "batches").glob("*.json")]
            self._known = max([*numbers, self.compacted_through()])

    def find(self, key: str, body_sha: str) -> Batch | None:
        """The batch committed under ``key``, if any.

        Raises:
            IdempotencyConflict: ``key`` was used with another body.
        """
        record = self.root / "keys" / f"{_key_hash(key)}.json"
        if not record.exists():
            return None
        stored = json.loads(record.read_text())
        if stored["body_sha256"] != body_sha:
            raise IdempotencyConflict(
                "this Idempotency-Key was used before with a different body: "
                "send a new key for a new batch"
            )
        if "result" in stored and not self._manifest(stored["sequence"]).exists():
            # folded into a range: the answer is what a retry needs, and the record keeps it
            return Batch(stored["sequence"], {}, [], stored["result"], stored["received_at"])
        return self.batch(stored["sequence"])

    def commit(
        self,
        key: str,
        body_sha: str,
        tables: Mapping[str, pa.Table],
        result: dict[str, Any],
    ) -> tuple[Batch, bool]:
        """Commit one batch durably, or return the one committed under ``key`` before.

        Args:
            key: the idempotency key.
            body_sha: SHA-256 of the request body (:func:`body_hash`).
            tables: the valid rows per contract table, typed (empty tables are skipped).
            result: the answer to keep with the batch.

        Returns:
            The batch, and whether it is new (``False``: a retry of a committed batch).

        Raises:
            IdempotencyConflict: ``key`` was used with another body.
        """
        with self.exclusive():
            if (found := self.find(key, body_sha)) is not None:
                return found, False
            sequence = self.last_sequence() + 1
            segments = {}
            accounts: set[str] = set()
            for name, table in tables.items():
                if table.num_rows == 0:
                    continue
                relative = f"segments/{sequence:012d}-{name}.parquet"
                write_durably(self.root / relative, parquet_bytes(table))
                segments[name] = relative
                ids = table.column("account_id").to_pylist()
                accounts.update(i for i in ids if i is not None)
            batch = Batch(
                sequence,
                segments,
                sorted(accounts),
                result,
                datetime.now(UTC).isoformat(timespec="milliseconds"),
            )
            manifest = {**batch.__dict__, "key_sha256": _key_hash(key), "body_sha256": body_sha}
            write_durably(self._manifest(sequence), json.dumps(manifest).encode())
            self._file_key(manifest)
            return batch, True

    def last_sequence(self) -> int:
        """The sequence number of the last committed batch (0 before the first).

        Sequences are given under the lock, one after the other, and a batch lost before its
        commit leaves its number to the next: so the manifests after the last one seen are
        looked for one by one (the folder is never listed again), after the last range when
        ranges have folded them since (the few range manifests are listed).
        """
        with self._probing:
            known = self._known
            while True:
                if self._manifest(known + 1).exists():
                    known += 1
                    continue
                folded = self.compacted_through()  # the next ones may be folded by now
                if folded <= known:
                    break
                known = folded
            self._known = known
            return known

    def batch(self, sequence: int) -> Batch:
        """The committed batch ``sequence``.

        Raises:
            CompactedAway: the batch was folded into a range and its files are gone.
        """
        try:
            stored = json.loads(self._manifest(sequence).read_text())
        except FileNotFoundError:
            if sequence <= self.compacted_through():
                raise CompactedAway(
                    f"ingested batch {sequence} was folded into a range: load the data again"
                ) from None
            raise
        return Batch(
            stored["sequence"],
            stored["segments"],
            stored["accounts"],
            stored["result"],
            stored["received_at"],
        )

    def batches(self, after: int = 0) -> Iterator[Batch]:
        """Committed batches with a sequence above ``after``, in order.

        Raises:
            CompactedAway: some of them were folded into a range (a reader that far behind
                loads the data again, see :meth:`history`).
        """
        for number in range(after + 1, self.last_sequence() + 1):
            yield self.batch(number)

    def ranges(self) -> list[Range]:
        """The committed ranges, in order. A merged range hides the ranges it folded, whose
        files stay until the next range is committed (a reader may have listed them).

        Raises:
            CompactedAway: the ranges kept changing while they were listed.
        """
        for _ in range(_LISTINGS):
            # a gap: listed before a merge, read after its parts were deleted; list again
            if (visible := visible_ranges(read_ranges(self.root))) is not None:
                return visible
        raise CompactedAway("the ingested ranges were merged while listed: load the data again")

    def compacted_through(self) -> int:
        """The last batch folded into a range (0 when none is)."""
        return max((range_last(p) for p in (self.root / "ranges").glob("*.json")), default=0)

    def history(self) -> list[Batch]:
        """Everything committed, to append in order: the ranges, then the batches after them.

        A compaction that runs meanwhile deletes only the batches of earlier ranges, so the
        batches listed here stay readable until the compaction after it.
        """
        ranges = [found.batch for found in self.ranges()]
        return ranges + list(self.batches(after=ranges[-1].sequence if ranges else 0))

    def commit_range(self, first: int, last: int, tables: Mapping[str, pa.Table]) -> Batch | None:
        """Commit the rows of batches ``first..last`` as one range, then delete the batches of
        the earlier ranges (their answers stay with their keys), and the ranges merges hid.

        Args:
            first: the first batch folded (the one after the last range).
            last: the last batch folded.
            tables: per table, the folded rows (see :func:`vitals.features.compaction.fold`).

        Returns:
            The range as a batch, or ``None`` when another process folded a range meanwhile
            (nothing is written).
        """
        with self.exclusive():
            if first != self.compacted_through() + 1 or last > self.last_sequence():
                return None
            earlier = self.compacted_through()
            self._delete_hidden_ranges()
            folded_at = datetime.now(UTC).isoformat(timespec="milliseconds")
            folded = write_range(self.root, first, last, 0, tables, folded_at)
            self._delete_batches(through=earlier)
            return folded.batch

    def commit_merge(self, parts: Sequence[Range], tables: Mapping[str, pa.Table]) -> Range | None:
        """Commit consecutive ranges ``parts`` folded into one range, which hides them (their
        files are deleted by the next :meth:`commit_range`).

        Args:
            parts: the ranges folded, in order.
            tables: per table, their folded rows (see :func:`vitals.features.compaction.fold`).

        Returns:
            The merged range, or ``None`` when another process merged some of ``parts``
            meanwhile (nothing is written).
        """
        with self.exclusive():
            if not {span(p) for p in parts} <= {span(r) for r in self.ranges()}:
                return None
            level = max(part.level for part in parts) + 1
            # every batch in it was received before its last part was folded
            folded_at = parts[-1].batch.received_at
            return write_range(self.root, parts[0].first, parts[-1].last, level, tables, folded_at)

    def _delete_hidden_ranges(self) -> None:
        """Delete the files of the ranges a merge hides (segments first: a crash leaves a
        hidden manifest, deleted next time, or stray segments, swept on the next open)."""
        every = read_ranges(self.root)  # under the lock: no merge deletes meanwhile
        visible = {span(r) for r in visible_ranges(every) or every}  # a gap: delete nothing
        for hidden in every:
            if span(hidden) in visible:
                continue
            for relative in hidden.batch.segments.values():
                (self.root / relative).unlink(missing_ok=True)
            range_manifest(self.root, hidden).unlink(missing_ok=True)

    def _delete_batches(self, through: int) -> None:
        """Delete the manifests and segments of batches up to ``through`` (all in ranges),
        after filing each one's answer with its key. A crash half-way leaves only segments no
        manifest lists, swept on the next open."""
        for path in sorted((self.root / "batches").glob("*.json")):
            if int(path.stem) > through:
                continue
            manifest = json.loads(path.read_text())
            record = self.root / "keys" / f"{manifest['key_sha256']}.json"
            # not filed yet (a crash after the commit), or filed before answers were kept
            if not record.exists() or "result" not in json.loads(record.read_text()):
                self._file_key(manifest)
            path.unlink()
            for relative in manifest["segments"].values():
                (self.root / relative).unlink(missing_ok=True)

    def _manifest(self, sequence: int) -> Path:
        return self.root / "batches" / f"{sequence:012d}.json"

    def _file_key(self, manifest: dict[str, Any]) -> None:
        record = {
            "sequence": manifest["sequence"],
            "body_sha256": manifest["body_sha256"],
            "result": manifest["result"],
            "received_at": manifest["received_at"],
        }
        key_file = self.root / "keys" / f"{manifest['key_sha256']}.json"
        write_durably(key_file, json.dumps(record).encode())

    def _recover(self) -> None:
        """File the keys of committed batches a crash left unfiled; sweep uncommitted files."""
        committed: set[str] = set()
        for path in (self.root / "batches").glob("*.json"):
            manifest = json.loads(path.read_text())
            committed.update(manifest["segments"].values())
            if not (self.root / "keys" / f"{manifest['key_sha256']}.json").exists():
                self._file_key(manifest)
        for folded in read_ranges(self.root):  # hidden ones too: a reader may have listed them
            committed.update(folded.batch.segments.values())
        for path in (self.root / "segments").iterdir():
            if f"segments/{path.name}" not in committed:
                path.unlink()
        for folder in ("batches", "keys", "ranges"):
            for path in (self.root / folder).glob(".*.tmp"):
                path.unlink()

    def exclusive(self) -> AbstractContextManager[None]:
        """Hold the store's writer lock (threads and processes; re-entrant in one thread, also
        through another :class:`IngestedStore` of the same folder, e.g. a reload under the
        lock)."""
        return writer_lock(self.root / _LOCK)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
