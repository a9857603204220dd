"""Ingesting batches of rows: checked like ``vitals validate``, committed durably, deduplicated.

One :class:`Ingestor` per process holds the data it checks batches against (the data directory
and every batch ingested so far, in DuckDB), and the append-only store the batches go to
(:mod:`vitals.features.ingested`). A batch is checked, and its valid rows committed, while the
store's lock is held, after catching up with batches other processes committed: so two
writers (``vitals serve`` and ``vitals ingest``) never check against stale data.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from vitals.config.settings import IngestSettings
from vitals.features.batch_check import BatchChecker
from vitals.features.ingested import Batch, CompactedAway, IngestedStore, body_hash
from vitals.features.ingested_rows import append_batches
from vitals.features.pipeline import load_valid_dataset

logger = logging.getLogger(__name__)

Rows = Mapping[str, Sequence[Mapping[str, Any]]]


class TooManyRows(ValueError):
    """A batch holds more rows than ``ingest.max_rows``."""


@dataclass(frozen=True)
class IngestResult:
    """What ingesting a batch did.

    Attributes:
        batch: the committed batch's sequence number.
        accepted: valid rows kept, per table.
        rejected: each refused row: ``table``, ``index`` (its position in the table's list),
            ``rule``, ``field`` and ``message``.
        replayed: the batch had been committed before under the same key (nothing new kept).
        received_at: when the batch was first committed (UTC).
    """

    batch: int
    accepted: dict[str, int]
    rejected: list[dict[str, Any]]
    replayed: bool
    received_at: str

    @classmethod
    def of(cls, batch: Batch, replayed: bool) -> IngestResult:
        """The result kept with a committed batch."""
        return cls(
            batch.sequence,
            batch.result["accepted"],
            batch.result["rejected"],
            replayed,
            batch.received_at,
        )


class Ingestor:
    """Checks and commits batches for one data directory.

    Args:
        data_dir: the data directory the batches extend.
        settings: where the store is and how large a batch may be.

    Raises:
        vitals.features.pipeline.PipelineError: the data directory fails validation.
        ValueError: the store folder belongs to another data directory.
    """

    def __init__(self, data_dir: str | Path, settings: IngestSettings) -> None:
        self.settings = settings
        self.store = IngestedStore(settings.store_dir, data_dir)
        self.dataset = load_valid_dataset(data_dir)
        self.checker = BatchChecker(self.dataset)

    def ingest(
        self,
        rows: Rows,
        key: str | None = None,
        body: bytes | None = None,
        now: datetime | None = None,
    ) -> IngestResult:
        """Check a batch and commit its valid rows, once per idempotency key.

        Args:
            rows: per contract table, the rows as JSON objects.
            key: the idempotency key (``None``: a new random one, so the batch is never
                deduplicated).
            body: the request body the key stands for (default: ``rows`` as given); the same key
                with another body is refused.
            now: stamps after this are in the future (default: the current time).

        Returns:
            The result (the first one again for a retried key).

        Raises:
            TooManyRows: more rows than ``max_rows``.
            vitals.features.batch_check.BatchError: a malformed batch.
            vitals.features.ingested.IdempotencyConflict: the key was used with another body.
        """
        count = sum(len(items) for items in rows.values())
        if count > self.settings.max_rows:
            raise TooManyRows(
                f"the batch holds {count:,} rows; at most {self.settings.max_rows:,} per batch "
                "(ingest.max_rows): split it"
            )
        digest = body_hash(body if body is not None else repr(sorted(rows.items())).encode())
        key = key or f"auto-{uuid.uuid4()}"
        with self.store.exclusive():
            if (found := self.store.find(key, digest)) is not None:
                return IngestResult.of(found, replayed=True)
            self.catch_up()
            checked = self.checker.check(rows, now)
            result = {
                "accepted": checked.accepted,
                "rejected": [asdict(r) for r in checked.rejected],
            }
            batch, _ = self.store.commit(key, digest, checked.tables, result)
            append_batches(self.dataset, self.store, [batch])
        logger.info(
            "batch %d: %s accepted, %d rejected",
            batch.sequence,
            checked.accepted,
            len(checked.rejected),
        )
        return IngestResult.of(batch, replayed=False)

    def check(self, rows: Rows, now: datetime | None = None) -> list[dict[str, Any]]:
        """The rows of a batch that :meth:`ingest` would refuse now (nothing is committed)."""
        with self.store.exclusive():
            self.catch_up()
            return [asdict(r) for r in self.checker.check(rows, now).rejected]

    def catch_up(self) -> None:
        """Add the batches other processes committed since this one last looked."""
        with self.store.exclusive():
            try:
                new = list(self.store.batches(after=self.dataset.ingested_through))
            except CompactedAway:  # folded into a range before this process took them in
                self._reload()
                return
            append_batches(self.dataset, self.store, new)

    def _reload(self) -> None:
        """Load the data directory and every ingested row again (kept as it was on failure)."""
        dataset = load_valid_dataset(self.dataset.path)
        self.close()
        self.dataset, self.checker = dataset, BatchChecker(dataset)

    def close(self) -> None:
        """Release the data held in DuckDB."""
        self.checker.close()
        self.dataset.con.close()
