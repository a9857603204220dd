"""Adding ingested batches to a loaded data directory is all or nothing, and names the accounts
whose rows a replacing row took away."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from vitals.features.ingested import IngestedStore, body_hash
from vitals.features.ingested_rows import append_batches
from vitals.features.loader import Dataset, load_dataset

STAMP = datetime(2024, 1, 6, 9, 0)


def counts(dataset: Dataset) -> dict[str, int]:
    """Rows per table of the connection (tables of the data directory and created ones)."""
    names = [r[0] for r in dataset.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    return {n: dataset.con.execute(f"SELECT count(*) FROM {n}").fetchall()[0][0] for n in names}


def commit(store: IngestedStore, key: str, tables: dict[str, pa.Table]):
    batch, _ = store.commit(key, body_hash(key.encode()), tables, {})
    return batch


def test_a_failure_half_way_adds_nothing_and_a_retry_adds_each_row_once(
    data: Any, tmp_path: Path
) -> None:
    data.remove("surveys")  # the first batch creates the table
    store = IngestedStore(tmp_path / "store", data.path)
    first = commit(
        store,
        "b1",
        {
            "events": pa.table(
                {
                    "account_id": ["a2", "a3"],
                    "timestamp": [STAMP, STAMP],
                    "event_type": ["login"] * 2,
                }
            ),
            # ticket t2 was b1's: corrected to a3
            "tickets": pa.table(
                {
                    "account_id": ["a3"],
                    "ticket_id": ["t2"],
                    "opened_at": [STAMP],
                    "priority": ["low"],
                }
            ),
            "surveys": pa.table(
                {"account_id": ["a2"], "responded_at": [STAMP], "kind": ["nps"], "score": [7.0]}
            ),
        },
    )
    second = commit(
        store,
        "b2",
        {"sentiment": pa.table({"account_id": ["b1"], "recorded_at": [STAMP], "rating": ["red"]})},
    )
    broken = store.root / second.segments["sentiment"]
    intact = broken.read_bytes()
    broken.write_bytes(b"not parquet")
    dataset = load_dataset(data.path)
    before, files = counts(dataset), dict(dataset.files)

    with pytest.raises(duckdb.Error):
        append_batches(dataset, store, [first, second])

    assert counts(dataset) == before
    assert dataset.files == files and not dataset.has("surveys")
    assert dataset.ingested_through == 0

    broken.write_bytes(intact)
    appended = append_batches(dataset, store, [first, second])

    after = counts(dataset)
    assert after["events"] == before["events"] + 2
    assert after["tickets"] == before["tickets"]  # replaced, not added
    assert after["surveys"] == 1 and after["sentiment"] == before["sentiment"] + 1
    assert appended.rows == 5
    assert appended.replaced_accounts == {"b1"}  # t2 left b1, which the batch does not name
    assert dataset.ingested_through == second.sequence
    dataset.con.close()
