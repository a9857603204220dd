"""The append-only store of ingested batches: commit order, idempotency, crash recovery, and
ranges of folded batches."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet
import pytest

from vitals.features import compaction
from vitals.features.compaction import compact, merge
from vitals.features.ingested import (
    CompactedAway,
    IdempotencyConflict,
    IngestedStore,
    body_hash,
)


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


def ticket(ticket_id: str, status: str) -> dict[str, pa.Table]:
    return {
        "tickets": pa.table({"ticket_id": [ticket_id], "account_id": ["A1"], "status": [status]})
    }


def test_a_range_keeps_the_latest_version_of_a_replaced_row_and_every_answer(
    tmp_path: Path,
) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    store.commit("t1", body_hash(b"t1"), ticket("T1", "open"), {"n": 1})
    store.commit("e1", body_hash(b"e1"), rows("A1", 3), {"n": 2})
    store.commit("t2", body_hash(b"t2"), ticket("T1", "closed"), {"n": 3})
    store.commit("e2", body_hash(b"e2"), rows("A2", 2), {"n": 4})
    folded = compact(store, through=4)
    assert folded is not None and folded.sequence == 4
    tickets = pa.parquet.read_table(store.root / folded.segments["tickets"]).to_pylist()
    assert tickets == [{"ticket_id": "T1", "account_id": "A1", "status": "closed"}]
    events = pa.parquet.read_table(store.root / folded.segments["events"])
    assert events.column("account_id").to_pylist() == ["A1"] * 3 + ["A2"] * 2
    assert compact(store, through=4) is None  # nothing new to fold
    # the batches stay until the next range: a reader that listed them can still read them
    assert [b.sequence for b in store.batches(after=1)] == [2, 3, 4]
    assert [b.sequence for b in store.history()] == [4]


def test_a_reader_two_ranges_behind_is_told_to_load_again(tmp_path: Path) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    for i in range(1, 7):
        store.commit(f"k{i}", body_hash(str(i).encode()), rows(f"A{i}"), {"n": i})
    compact(store, through=3)
    compact(store, through=6, at_least=4)  # only 3 wait: not folded
    assert store.compacted_through() == 3
    compact(store, through=6)
    assert store.compacted_through() == 6
    with pytest.raises(CompactedAway, match="load the data again"):
        list(store.batches(after=1))
    assert [b.sequence for b in store.batches(after=3)] == [4, 5, 6]
    assert [b.sequence for b in store.history()] == [3, 6]
    assert sorted(p.name for p in (store.root / "batches").glob("*.json")) == [
        f"{i:012d}.json" for i in (4, 5, 6)
    ]
    # a retry of a folded batch gets its first answer; a new batch follows the last sequence
    again = store.find("k2", body_hash(b"2"))
    assert again is not None and again.sequence == 2 and again.result == {"n": 2}
    with pytest.raises(IdempotencyConflict):
        store.find("k2", body_hash(b"other"))
    reopened = IngestedStore(store.root, tmp_path / "data")
    assert reopened.commit("k7", body_hash(b"7"), rows("A7"), {})[0].sequence == 7


def test_a_crash_while_folding_leaves_the_ranges_as_they_were(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = IngestedStore(root, tmp_path / "data")
    for i in range(1, 4):
        store.commit(f"k{i}", body_hash(str(i).encode()), rows(f"A{i}"), {})
    folded = compact(store, through=2)
    assert folded is not None
    # a crash before the next range's manifest was renamed into place
    stray = root / "segments" / "range-000000000003-000000000003-events.parquet"
    stray.write_bytes(b"half")
    (root / "ranges" / ".000000000003.json.tmp").write_text("{")
    reopened = IngestedStore(root, tmp_path / "data")
    assert not stray.exists() and not list((root / "ranges").glob(".*"))
    assert all((root / f).exists() for f in folded.segments.values())
    assert [b.sequence for b in reopened.history()] == [2, 3]
    # a range folded by another process meanwhile: this one's fold is dropped, nothing written
    assert reopened.commit_range(1, 3, {}) is None


def test_a_long_backlog_folds_in_bounded_ranges_and_types_unify_as_loading_does(
    tmp_path: Path,
) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    for i, src in enumerate([1, "web", 2, "app", 3], start=1):  # re-exported: int, then text
        extra = pa.table({"account_id": ["A1"], "event_type": ["x"], "src": [src]})
        store.commit(f"k{i}", body_hash(str(i).encode()), {"events": extra}, {})
    ranges = [compact(store, through=5, at_least=2, at_most=2) for _ in range(3)]
    assert [r.sequence if r else None for r in ranges] == [2, 4, None]  # one batch is too few
    assert [b.sequence for b in store.history()] == [2, 4, 5]
    folded = pa.parquet.read_table(store.root / ranges[1].segments["events"])
    assert folded.column("src").to_pylist() == ["2", "app"]


def test_ranges_merge_in_tiers_and_what_a_merge_hides_stays_until_the_next_range(
    tmp_path: Path,
) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    merged = []
    for i in range(1, 9):
        store.commit(f"k{i}", body_hash(f"k{i}".encode()), rows(f"a{i}", n=i), {"n": i})
        compact(store, through=i)
        while (found := merge(store, fanout=2)) is not None:
            merged.append((found.first, found.last, found.level))
    # a counter in base 2
    assert merged == [(1, 2, 1), (3, 4, 1), (1, 4, 2), (5, 6, 1), (7, 8, 1), (5, 8, 2), (1, 8, 3)]
    assert [(r.first, r.last, r.level) for r in store.ranges()] == [(1, 8, 3)]
    assert store.compacted_through() == 8
    widest = pa.parquet.read_table(store.root / store.ranges()[0].batch.segments["events"])
    assert widest["account_id"].to_pylist() == [f"a{i}" for i in range(1, 9) for _ in range(i)]
    # what the merges after the last range hid stays for a reader that listed it before
    names = sorted(p.name for p in (store.root / "ranges").glob("*.json"))
    assert names == ["000000000004-000000000001.json", "000000000006-000000000005.json",
                     "000000000007.json", "000000000008-000000000001.json",
                     "000000000008-000000000005.json", "000000000008-000000000007.json",
                     "000000000008.json"]  # fmt: skip
    # the next range deletes it; the next open sweeps nothing a range lists
    store.commit("k9", body_hash(b"k9"), rows("a9"), {"n": 9})
    compact(store, through=9)
    names = sorted(p.name for p in (store.root / "ranges").glob("*.json"))
    assert names == ["000000000008-000000000001.json", "000000000009.json"]
    listed = {s for r in store.ranges() for s in r.batch.segments.values()}
    assert {f"segments/{p.name}" for p in (store.root / "segments").glob("range-*")} == listed
    reopened = IngestedStore(store.root, tmp_path / "data")
    assert [(r.first, r.last) for r in reopened.ranges()] == [(1, 8), (9, 9)]
    assert [b.sequence for b in reopened.history()] == [8, 9]


def test_a_merge_another_process_made_first_is_dropped(tmp_path: Path) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    for i in range(1, 3):
        store.commit(f"k{i}", body_hash(f"k{i}".encode()), rows(f"a{i}"), {"n": i})
        compact(store, through=i)
    parts = store.ranges()
    assert merge(store, fanout=2, max_rows=3) is None  # 2 + 2 events: too many in one range
    assert merge(store, fanout=2, max_rows=4) is not None
    assert store.commit_merge(parts, {}) is None  # hidden by then: nothing is written
    assert [(r.first, r.last, r.level) for r in store.ranges()] == [(1, 2, 1)]


def test_a_merge_over_the_row_cap_takes_the_ranges_in_a_row_that_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    for i in range(1, 4):
        store.commit(f"k{i}", body_hash(f"k{i}".encode()), rows(f"a{i}"), {"n": i})
        compact(store, through=i)
    parts = store.ranges()
    # the manifests count the rows: no footer is read
    monkeypatch.setattr(compaction.pq, "ParquetFile", None)
    assert merge(store, fanout=3, max_rows=3) is None  # not even two fit
    merged = merge(store, fanout=3, max_rows=5)  # two of the three fit
    assert merged is not None and merged.rows == {"events": 4}
    assert [(r.first, r.last, r.level) for r in store.ranges()] == [(1, 2, 1), (3, 3, 0)]
    # every batch in it was received before its last part was folded (what Backlog.lag reads)
    assert merged.batch.received_at == parts[1].batch.received_at


def test_ranges_with_a_gap_are_listed_again_then_refused(tmp_path: Path) -> None:
    store = IngestedStore(tmp_path / "store", tmp_path / "data")
    for i in range(1, 4):
        store.commit(f"k{i}", body_hash(f"k{i}".encode()), rows(f"a{i}"), {"n": i})
        compact(store, through=i)
    (store.root / "ranges" / "000000000002.json").unlink()  # as a reader behind a merge sees
    with pytest.raises(CompactedAway):
        store.ranges()
