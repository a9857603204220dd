"""Folding ingested batches into ranges, and ranges into larger ones, changes nothing a reader
sees: every table loads with the same rows in the same order, and a retried batch gets its first
answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from contract_strategies import Case, cases
from hypothesis import given, note, settings
from hypothesis import strategies as st
from test_ingest_properties import SETTINGS, ingesting_into, rows_of

from vitals.config.settings import get_settings
from vitals.features.compaction import compact, merge
from vitals.features.ingested import CompactedAway
from vitals.features.loader import Dataset, load_dataset
from vitals.serving.ingest.ingestor import Ingestor

if TYPE_CHECKING:  # the features tests' conftest (a bare import may find another one)
    from conftest import DataDir

REPLACING = ("tickets", "subscriptions")  # rows sent again replace the stored ones


def ordered_rows(dataset: Dataset) -> dict[str, list[str]]:
    """Every loaded table's rows in the order they are stored."""
    return {
        name: [repr(row) for row in dataset.con.execute(f"SELECT * FROM {name}").fetchall()]
        for name in sorted(dataset.files)
    }


@settings(max_examples=20, **SETTINGS)
@given(
    base=cases(max_accounts=3),
    sent=st.lists(cases(max_accounts=3), min_size=1, max_size=3),
    data=st.data(),
)
def test_ranges_load_as_their_batches_did(
    base: Case, sent: list[Case], data: st.DataObject
) -> None:
    with ingesting_into(base) as root:
        ingestor = Ingestor(root, get_settings().ingest)
        bodies = {}
        for i, case in enumerate(sent):
            bodies[f"sent{i}"] = rows_of(case)
            # the data's own tickets and lines again, as updates: they replace the stored
            again = {t: rows for t, rows in rows_of(base).items() if t in REPLACING and rows}
            if again and data.draw(st.booleans(), label="send the data's rows again"):
                bodies[f"again{i}"] = again
        answers = {key: ingestor.ingest(rows, key=key) for key, rows in bodies.items()}
        before = load_dataset(root)
        expected = ordered_rows(before)
        before.con.close()
        last = ingestor.store.last_sequence()
        cuts = data.draw(st.lists(st.integers(1, last), max_size=3), label="ranges end at")
        fanout = data.draw(st.integers(2, 3), label="ranges merged by")
        for cut in [*sorted(cuts), last]:
            compact(ingestor.store, through=cut)
            while merge(ingestor.store, fanout) is not None:
                pass
        note(f"ranges: {[(r.first, r.last, r.level) for r in ingestor.store.ranges()]}")
        after = load_dataset(root)
        assert after.ingested_through == last
        assert ordered_rows(after) == expected
        after.con.close()
        for key, rows in bodies.items():
            retried = ingestor.ingest(rows, key=key)
            first = answers[key]
            assert retried.replayed and (retried.batch, retried.accepted, retried.rejected) == (
                first.batch,
                first.accepted,
                first.rejected,
            )
        ingestor.close()


def test_an_ingestor_behind_the_ranges_loads_the_data_again(
    data: DataDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VITALS_INGEST__STORE_DIR", str(data.path.parent / "ingested"))
    get_settings.cache_clear()
    idle = Ingestor(data.path, get_settings().ingest)  # e.g. a server nobody sent to a while
    busy = Ingestor(data.path, get_settings().ingest)  # e.g. `vitals ingest`
    for i in range(4):
        event = {"account_id": "n1", "timestamp": f"2024-01-0{i + 5}T10:00:00", "event_type": "x"}
        new = {"accounts": [{"account_id": "n1", "created_at": "2024-01-01T00:00:00"}]}
        busy.ingest({**(new if i == 0 else {}), "events": [event]}, key=f"k{i}")
        compact(busy.store, through=busy.store.last_sequence())  # four ranges: 1, 2, 3, 4
    with pytest.raises(CompactedAway):
        list(idle.store.batches(after=idle.dataset.ingested_through))
    idle.catch_up()
    assert idle.dataset.ingested_through == 4
    count = "SELECT count(*) FROM events WHERE account_id = 'n1'"
    assert idle.dataset.con.execute(count).fetchall() == [(4,)]
    # it checks new rows against every row, ingested ones included: n1 is a known account
    event = {"account_id": "n1", "timestamp": "2024-01-09T10:00:00", "event_type": "y"}
    answer = idle.ingest({"events": [event]}, key="y")
    assert answer.batch == 5 and answer.accepted == {"events": 1}, answer.rejected
    idle.close()
    busy.close()
    get_settings.cache_clear()
