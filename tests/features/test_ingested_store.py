"""The append-only store of ingested batches: commit order, idempotency, and crash recovery."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from vitals.features.ingested import IdempotencyConflict, IngestedStore, body_hash


def rows(account: str, n: int = 2) -> dict[str, pa.Table]:
    return {"events": pa.table({"account_id": [account] * n, "event_type": ["login"] * n})}


def test_concurrent_commits_get_every_sequence_once(tmp_path: Path) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    other = IngestedStore(tmp_path / "store", tmp_path / "data")  # a second writer, as a server
    stop = threading.Event()

    def commit(writer: IngestedStore, worker: int) -> None:
        for i in range(15):
            key = f"{worker}-{i}"
            writer.commit(key, body_hash(key.encode()), rows(key), {"n": i})

    def probe() -> None:  # status calls, meanwhile, without the lock
        while not stop.is_set():
            store.last_sequence()
            list(store.batches(max(0, store.last_sequence() - 3)))

    probes = [threading.Thread(target=probe) for _ in range(4)]
    writers = [
        threading.Thread(target=commit, args=(s, w)) for w, s in enumerate([store, other] * 2)
    ]
    for thread in probes + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in probes:
        thread.join()
    names = sorted(p.name for p in (tmp_path / "store" / "batches").glob("*.json"))
    assert names == [f"{i:012d}.json" for i in range(1, 61)]
    assert [b.sequence for b in store.batches()] == list(range(1, 61))
    assert len({b.accounts[0] for b in other.batches()}) == 60


def test_a_key_counts_once_and_refuses_another_body(tmp_path: Path) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    first, new = store.commit("k", body_hash(b"a"), rows("A1"), {"ok": 1})
    again, new_again = store.commit("k", body_hash(b"a"), rows("A1"), {"ok": 2})
    assert new and not new_again and again == first and again.result == {"ok": 1}
    with pytest.raises(IdempotencyConflict, match="different body"):
        store.commit("k", body_hash(b"b"), rows("A1"), {})
    assert store.last_sequence() == 1


def test_a_crash_leaves_no_half_batch_and_loses_no_committed_key(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = IngestedStore(root, tmp_path / "data")
    batch, _ = store.commit("k1", body_hash(b"1"), rows("A1"), {})
    # a crash after the manifest, before the key was filed; and one before the manifest
    (root / "keys").joinpath(
        f"{json.loads((root / 'batches' / '000000000001.json').read_text())['key_sha256']}.json"
    ).unlink()
    (root / "segments" / "000000000002-events.parquet").write_bytes(b"half")
    (root / "batches" / ".000000000002.json.tmp").write_text("{")
    reopened = IngestedStore(root, tmp_path / "data")
    assert reopened.find("k1", body_hash(b"1")) == batch
    assert not (root / "segments" / "000000000002-events.parquet").exists()
    assert not list((root / "batches").glob(".*.tmp"))
    assert reopened.commit("k2", body_hash(b"2"), rows("A2"), {})[0].sequence == 2


def test_a_store_belongs_to_one_data_directory(tmp_path: Path) -> None:
    IngestedStore(tmp_path / "store", tmp_path / "data")
    with pytest.raises(ValueError, match="ingested for"):
        IngestedStore(tmp_path / "store", tmp_path / "other")
