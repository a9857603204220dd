"""An account's recent tickets, survey answers and CSM ratings, read from the served data.

The health store keeps scores, not the customer's raw rows: these come from the data directory
that ``vitals serve --data DIR`` ingests into (``ingest.data_dir``), with its ingested rows
(ratings given through the API among them). Only these tables are loaded, once, and loaded again
when an ingested batch or a file of theirs changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vitals.features.ingested import IngestedStore
from vitals.features.ingested_rows import ingested_store
from vitals.features.loader import Dataset, load_dataset

TABLES = ("tickets", "surveys", "sentiment")
_ORDER = {"tickets": "opened_at", "surveys": "responded_at", "sentiment": "recorded_at"}


@dataclass(frozen=True)
class Activity:
    """Recent rows of one account (newest first), or why there are none to show."""

    tickets: list[dict[str, Any]] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)
    sentiment: list[dict[str, Any]] = field(default_factory=list)
    unavailable: str | None = None


class RecentActivity:
    """Reads accounts' recent tickets, survey answers and CSM ratings from a data directory.

    Args:
        data_dir: the data directory (``None``: the server was started without one).
    """

    def __init__(self, data_dir: str | None) -> None:
        self.data_dir = Path(data_dir) if data_dir else None
        self._lock = threading.Lock()
        self._loaded: tuple[tuple[Any, ...], Dataset] | None = None
        self._store: IngestedStore | None = None

    def of(self, account_id: str, limit: int = 10) -> Activity:
        """The account's ``limit`` newest tickets, survey answers and CSM ratings."""
        if self.data_dir is None:
            return Activity(unavailable="the server was started without a data directory")
        with self._lock:
            dataset = self._dataset()
            found = {}
            for table in TABLES:
                if not dataset.has(table):
                    found[table] = []
                    continue
                cursor = dataset.con.execute(
                    f"SELECT * FROM {table} WHERE account_id = ? "
                    f"ORDER BY {_ORDER[table]} DESC LIMIT ?",
                    [account_id, limit],
                )
                names = [d[0] for d in cursor.description]
                found[table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return Activity(**found)

    def _dataset(self) -> Dataset:
        assert self.data_dir is not None
        version = self._version(self.data_dir)
        if self._loaded is None or self._loaded[0] != version:
            if self._loaded is not None:
                self._loaded[1].con.close()
            self._loaded = (version, load_dataset(self.data_dir, tables=TABLES))
        return self._loaded[1]

    def _version(self, root: Path) -> tuple[Any, ...]:
        """What changes when the tables' rows may have: their files, and the last ingested batch."""
        files = tuple(
            (f.name, f.stat().st_mtime_ns, f.stat().st_size)
            for f in sorted(root.iterdir())
            if f.stem in TABLES and f.is_file()
        )
        self._store = self._store or ingested_store(root)  # kept: it remembers the last batch seen
        return files, self._store.last_sequence() if self._store is not None else 0
