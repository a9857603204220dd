"""The back-pressure's view of the backlog, also when the batches it waits on were folded."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from vitals.features.compaction import compact
from vitals.features.ingested import IngestedStore, body_hash
from vitals.serving.ingest.rescoring import CONSUMER, Backlog
from vitals.serving.store import HealthStore
from vitals.serving.store.writer import record_progress


def test_the_lag_of_batches_folded_before_they_were_rescored(tmp_path: Path) -> None:
    ingested = IngestedStore(tmp_path / "ingested", tmp_path / "data")
    for i in range(1, 6):
        events = pa.table({"account_id": [f"A{i}"], "event_type": ["login"]})
        ingested.commit(f"k{i}", body_hash(str(i).encode()), {"events": events}, {})
    store = HealthStore.open(f"sqlite:///{tmp_path}/health.db")
    with store.engine.begin() as conn:  # e.g. a second worker that wrote older progress
        record_progress(conn, CONSUMER, 1)
    compact(ingested, through=2)
    compact(ingested, through=4)  # batches 1 and 2 are deleted now
    backlog = Backlog(store, ingested)
    assert backlog.pending() == 4
    assert backlog.lag() > 0  # batch 2 waited at least since its range was folded
    with store.engine.begin() as conn:
        record_progress(conn, CONSUMER, 5)
    assert backlog.pending() == 0 and backlog.lag() == 0
    store.close()
