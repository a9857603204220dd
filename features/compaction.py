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
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from vitals.features.casting import literal, quote
from vitals.features.contract import TABLES
from vitals.features.ingested import Batch, IngestedStore
from vitals.features.ingested_rows import REPLACED_BY


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


def fold(store: IngestedStore, batches: Sequence[Batch]) -> dict[str, pa.Table]:
    """Per table, the rows of ``batches`` (in order) as one table: appended to the data, it
    gives what appending the batches one after the other gives.

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
