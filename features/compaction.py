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
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vitals.features.casting import quote
from vitals.features.contract import TABLES
from vitals.features.ingested import Batch, IngestedStore
from vitals.features.ingested_rows import REPLACED_BY


def compact(store: IngestedStore, through: int, at_least: int = 1) -> Batch | None:
    """Fold the committed batches after the last range, up to ``through``, into a range.

    Args:
        store: the ingested store.
        through: the last batch to fold (a reader that follows the store passes the last batch
            it took in, so that it never falls behind a range).
        at_least: fold only when this many batches are waiting.

    Returns:
        The range, or ``None`` when fewer than ``at_least`` batches wait (or another process
        folded them meanwhile).
    """
    first = store.compacted_through() + 1
    last = min(through, store.last_sequence())
    if last - first + 1 < max(1, at_least):
        return None
    # committed batches never change, so the folding needs no lock; the commit checks again
    batches = [store.batch(sequence) for sequence in range(first, last + 1)]
    return store.commit_range(first, last, fold(store, batches))


def fold(store: IngestedStore, batches: Sequence[Batch]) -> dict[str, pa.Table]:
    """Per table, the rows of ``batches`` (in order) as one table: appended to the data, it
    gives what appending the batches one after the other gives."""
    folded = {}
    for name in TABLES:
        parts = [
            (batch.sequence, pq.read_table(store.root / batch.segments[name]))
            for batch in batches
            if name in batch.segments
        ]
        if not parts:
            continue
        rows = pa.concat_tables([table for _, table in parts], promote_options="default")
        if name in REPLACED_BY:
            sequence = np.repeat([s for s, _ in parts], [table.num_rows for _, table in parts])
            rows = rows.take(_latest_versions(rows, sequence, REPLACED_BY[name]))
        folded[name] = rows
    return folded


def _latest_versions(rows: pa.Table, sequence: np.ndarray, key: tuple[str, ...]) -> np.ndarray:
    """Positions of the rows whose key no later batch sends again, in order. A batch's rows all
    count (appending a batch deletes the stored rows with its keys, then inserts its rows), and
    keys compare as ``IS NOT DISTINCT FROM`` does (missing values equal), as partitions do."""
    keys = rows.select(list(key)).append_column("__batch", pa.array(sequence))
    keys = keys.append_column("__row", pa.array(np.arange(rows.num_rows)))
    con = duckdb.connect()
    try:
        con.register("__keys", keys)
        partition = ", ".join(quote(k) for k in key)
        return con.sql(
            "SELECT __row FROM __keys "
            f"QUALIFY __batch = max(__batch) OVER (PARTITION BY {partition}) ORDER BY __row"
        ).fetchnumpy()["__row"]
    finally:
        con.close()
