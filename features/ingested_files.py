"""The ingested store's records and the files that hold them: batches, and ranges of batches.

A range's manifest is ``ranges/<last>.json`` for batches folded by a compaction, and
``ranges/<last>-<first>.json`` for ranges merged into one (which ends where its last part does).
A merged range hides the ranges it folded; their files stay until the store deletes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa

from vitals.features.store_files import parquet_bytes, write_durably


@dataclass(frozen=True)
class Batch:
    """A committed batch: its sequence number, the accounts it touched and its answer.

    Attributes:
        sequence: 1, 2, ... in commit order.
        segments: table name -> segment file (relative to the store root).
        accounts: the accounts whose rows it holds (sorted).
        result: what the ingestion answered (replayed for a retry with the same key).
        received_at: when it was committed (UTC, ISO 8601).
    """

    sequence: int
    segments: dict[str, str]
    accounts: list[str]
    result: dict[str, Any]
    received_at: str


@dataclass(frozen=True)
class Range:
    """A committed range: batches ``first..batch.sequence`` folded into one segment per table.

    Attributes:
        first: its first batch.
        batch: the range as a batch (``sequence`` its last batch, no ``accounts``,
            ``received_at`` when its last batches were folded: all were received before).
        level: 0 for batches folded by a compaction, one more than its parts' for a merge.
        rows: rows per table (``None`` for a range written before they were counted).
    """

    first: int
    batch: Batch
    level: int = 0
    rows: dict[str, int] | None = field(default=None, compare=False)

    @property
    def last(self) -> int:
        """Its last batch."""
        return self.batch.sequence


def read_ranges(root: Path) -> list[Range]:
    """Every range manifest under the store ``root``, hidden ones too, by last batch and the
    widest first."""
    found = []
    for path in (root / "ranges").glob("*.json"):
        try:
            stored = json.loads(path.read_text())
        except FileNotFoundError:  # hidden by a merge, and deleted since it was listed
            continue
        folded = Batch(stored["last"], stored["segments"], [], {}, stored["folded_at"])
        found.append(Range(stored["first"], folded, stored.get("level", 0), stored.get("rows")))
    return sorted(found, key=lambda r: (r.last, -r.first))


def visible_ranges(found: list[Range]) -> list[Range] | None:
    """The ranges no merged range hides, in order (``found`` as :func:`read_ranges` gives
    them); ``None`` when they leave a gap (read while a merge's parts were being deleted)."""
    visible: list[Range] = []
    for each in reversed(found):  # the widest of those ending at a batch comes first
        if not visible or each.last < visible[-1].first:
            visible.append(each)
    visible.reverse()
    return visible if all(a.last + 1 == b.first for a, b in pairwise(visible)) else None


def write_range(
    root: Path, first: int, last: int, level: int, tables: Mapping[str, pa.Table], folded_at: str
) -> Range:
    """Write a range's segments, then commit it by its manifest (the caller holds the lock)."""
    segments = {}
    for name, table in tables.items():
        relative = f"segments/range-{first:012d}-{last:012d}-{name}.parquet"
        write_durably(root / relative, parquet_bytes(table))
        segments[name] = relative
    rows = {name: table.num_rows for name, table in tables.items()}
    manifest = {
        "first": first,
        "last": last,
        "level": level,
        "segments": segments,
        "rows": rows,
        "folded_at": folded_at,
    }
    written = Range(first, Batch(last, segments, [], {}, folded_at), level, rows)
    write_durably(range_manifest(root, written), json.dumps(manifest).encode())
    return written


def range_manifest(root: Path, found: Range) -> Path:
    """Where the manifest of ``found`` is."""
    last, first = found.last, found.first
    name = f"{last:012d}.json" if found.level == 0 else f"{last:012d}-{first:012d}.json"
    return root / "ranges" / name


def range_last(manifest: Path) -> int:
    """The last batch of the range a manifest's name gives."""
    return int(manifest.stem.split("-")[0])


def span(found: Range) -> tuple[int, int]:
    """The first and last batch of a range."""
    return found.first, found.last
