"""Compaction of the ingested store: runs of small batches folded into one range.

At ten batches a second the store gains hundreds of thousands of segments a day, and every
command that loads the data directory reads each of them. Compaction folds the committed
batches after the last range into one segment per table (a *range*) that appends to the data
exactly as the batches did, one after the other: the same rows in the same order. Rows add,
except that a ticket or subscription line sent again by a later batch keeps only its latest
version (:data:`~vitals.features.ingested_rows.REPLACED_BY`).

The batches folded into a range stay on disk until the next compaction, so a reader that listed
them just before can still read them. A reader that follows the store from further behind gets
:class:`~vitals.features.ingested.CompactedAway` and loads the data again.

Ranges are merged in tiers, as a log-structured merge tree does: once :data:`MERGE_FANOUT`
ranges in a row are of one level, they are folded into one range of the next level. A store
that has taken in ``n`` batches thus keeps fewer than ``MERGE_FANOUT`` ranges per level, about
``MERGE_FANOUT * log(n / compact_after, MERGE_FANOUT)``, and each row is rewritten once per
level. Folding holds a range's rows in memory, so ranges stop growing near
:data:`MERGE_MAX_ROWS` rows of a table: past that, their number grows with the rows stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.features.casting import literal, quote
from vitals.features.contract import TABLES
from vitals.features.ingested import Batch, IngestedStore, Range
from vitals.features.ingested_rows import REPLACED_BY

MERGE_FANOUT = 10  # ranges of one level merged into one of the next
MERGE_MAX_ROWS = 5_000_000  # rows of a table in a merged range, at most (about 0.5 GB folding)


def compact(
    store: IngestedStore, through: int, at_least: int = 1, at_most: int | None = None
) -> Batch | None:
    """Fold the committed batches after the last range, up to ``through``, into a range.

    Args:
        store: the ingested store.
        through: the last batch to fold (a reader that follows the store passes the last batch
            it took in, so that it never falls behind a range).
        at_least: fold only when this many batches are waiting.
        at_most: fold no more than this many (a long backlog then takes several ranges, each
            read, written and later deleted in bounded time).

    Returns:
        The range, or ``None`` when fewer than ``at_least`` batches wait (or another process
        folded them meanwhile).
    """
    first = store.compacted_through() + 1
    last = min(through, store.last_sequence())
    if at_most is not None:
        last = min(last, first + at_most - 1)
    if last - first + 1 < max(1, at_least):
        return None
    # committed batches never change, so the folding needs no lock; the commit checks again
    batches = [store.batch(sequence) for sequence in range(first, last + 1)]
    return store.commit_range(first, last, fold(store, batches))


def merge(
    store: IngestedStore, fanout: int = MERGE_FANOUT, max_rows: int = MERGE_MAX_ROWS
) -> Range | None:
    """Fold the oldest ``fanout`` consecutive ranges of one level into one range; when that
    would give a table more than ``max_rows`` rows (folding holds them in memory), the most of
    them in a row that stays under it (at least two).

    Returns:
        The merged range, or ``None`` when nothing is to merge (or another process merged some
        of the ranges meanwhile).
    """
    ranges, fanout = store.ranges(), max(2, fanout)
    for start in range(len(ranges) - fanout + 1):
        run = ranges[start : start + fanout]
        if len({part.level for part in run}) > 1:
            continue
        parts = _within(store, run, max_rows)
        if len(parts) >= 2:
            return store.commit_merge(parts, fold(store, [part.batch for part in parts]))
    return None


def _within(store: IngestedStore, run: Sequence[Range], max_rows: int) -> Sequence[Range]:
    """The longest start of ``run`` whose tables hold no more than ``max_rows`` rows each."""
    total: dict[str, int] = {}
    for taken, part in enumerate(run):
        for name, count in _rows(store, part).items():
            total[name] = total.get(name, 0) + count
        if max(total.values(), default=0) > max_rows:
            return run[:taken]
    return run


def _rows(store: IngestedStore, part: Range) -> dict[str, int]:
    """Rows per table of a range: from its manifest, or its segments' footers (older ones)."""
    if part.rows is not None:
        return part.rows
    return {
        name: pq.ParquetFile(store.root / relative).metadata.num_rows
        for name, relative in part.batch.segments.items()
    }


def fold(store: IngestedStore, batches: Sequence[Batch]) -> dict[str, pa.Table]:
    """Per table, the rows of ``batches`` (in order; ranges too) as one table: appended to the
    data, it gives what appending the batches one after the other gives.

    The segments are read as loading reads them (DuckDB, columns matched by name, types
    unified), so whatever loads also folds. Where a later batch sends a row's key again, only
    the latest batch's rows with that key are kept: appending a batch deletes the stored rows
    with its keys, then inserts all of its rows. Keys compare as partitions do, missing values
    equal, as ``IS NOT DISTINCT FROM`` does when a batch is appended.
    """
    con = duckdb.connect()
    try:
        folded = {}
        for name in TABLES:
            parts = [
                (b.sequence, store.root / b.segments[name]) for b in batches if name in b.segments
            ]
            if not parts:
                continue
            order = pa.table(
                {"filename": [str(f) for _, f in parts], "__batch": [s for s, _ in parts]}
            )
            con.register("__order", order)
            latest = ""
            if name in REPLACED_BY:
                partition = ", ".join(quote(k) for k in REPLACED_BY[name])
                latest = f"QUALIFY __batch = max(__batch) OVER (PARTITION BY {partition}) "
            files = ", ".join(literal(str(f)) for _, f in parts)
            folded[name] = con.sql(
                "SELECT * EXCLUDE (filename, file_row_number, __batch) FROM ("
                f"SELECT * FROM read_parquet([{files}], union_by_name = true, filename = true, "
                "file_row_number = true) JOIN __order USING (filename)"
                f") {latest}ORDER BY __batch, file_row_number"
            ).to_arrow_table()
            con.unregister("__order")
        return folded
    finally:
        con.close()
