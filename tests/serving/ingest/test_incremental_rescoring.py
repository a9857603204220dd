"""Incremental re-scoring equals a batch run over the same data, after a random stream of
batches."""

from __future__ import annotations

import functools
import random
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from vitals.config.alerts import AlertSettings
from vitals.config.settings import get_settings
from vitals.features.compaction import compact, merge
from vitals.features.ingested import IngestedStore
from vitals.features.pipeline import load_valid_dataset
from vitals.serving.batch import RunOptions, load_model, score
from vitals.serving.ingest import worker as worker_module
from vitals.serving.ingest.ingestor import Ingestor
from vitals.serving.ingest.rescoring import Rescorer
from vitals.serving.ingest.runtime import start_worker
from vitals.serving.store import Alert, HealthStore, ParentHealth
from vitals.serving.store.features_table import read_latest_features
from vitals.serving.store.schema import SCORE_COLUMNS, AccountFeatures, HealthScore


@pytest.fixture
def ingest_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Ingested rows go under ``tmp_path`` for this test."""
    monkeypatch.setenv("VITALS_INGEST__STORE_DIR", str(tmp_path / "ingested"))
    get_settings.cache_clear()
    return tmp_path


def random_batch(
    rng: random.Random, accounts: list[str], last_day: Any, serial: int, feature: str
) -> dict:
    """Rows for a few accounts, stamped on the data's last day (the scoring date stays), some
    using the product ``feature``. Batch 1 adds an event older than any window reaches (it
    counts only for the feature's first use), batch 4 the first use of a new product feature."""
    chosen = rng.sample(accounts, rng.randint(1, 6))
    day = pd.Timestamp(last_day)
    stamp = lambda: (day + timedelta(seconds=rng.randint(0, 86_399))).isoformat()  # noqa: E731
    events = [
        {
            "account_id": a,
            "timestamp": stamp(),
            "event_type": rng.choice(["login", "report_run", "export", "brand_new_type"]),
            "feature": rng.choice([None, None, feature]),
            "user_id": f"u{rng.randint(1, 9)}",
            "value": rng.choice([None, 1.0, 2.5]),
        }
        for a in chosen
        for _ in range(rng.randint(1, 20))
    ]
    if serial == 1:
        old = (day - timedelta(days=200)).isoformat()
        events.append({"account_id": chosen[0], "timestamp": old, "event_type": "login",
                       "feature": feature})  # fmt: skip
    if serial == 4:
        events.append({"account_id": chosen[0], "timestamp": stamp(), "event_type": "login",
                       "feature": "launched_today"})  # fmt: skip
    batch: dict[str, list[dict[str, Any]]] = {"events": events}
    if rng.random() < 0.5:
        batch["tickets"] = [
            {
                "account_id": chosen[0],
                "ticket_id": f"ingested-{serial}",
                "opened_at": stamp(),
                "priority": rng.choice(["low", "high", "urgent"]),
            }
        ]
    if rng.random() < 0.5:
        batch["surveys"] = [
            {"account_id": chosen[-1], "responded_at": stamp(), "kind": "nps", "score": 3}
        ]
    if serial == 2:  # a new account with its first line, and a bad row that is refused
        batch["accounts"] = [
            {
                "account_id": "NEW-1",
                "created_at": (day - timedelta(days=40)).date().isoformat(),
                "segment": "smb",
                "parent_id": None,
            }
        ]
        batch["subscriptions"] = [
            {
                "account_id": "NEW-1",
                "start_date": (day - timedelta(days=40)).date().isoformat(),
                "mrr": 120.0,
            },
            {"account_id": "NOBODY", "start_date": "2025-01-01", "mrr": 10.0},
        ]
    return batch


def changes(ingestor: Ingestor, last_day: Any) -> dict[str, list[dict[str, Any]]]:
    """An open ticket closed, the only line of a one-line account ended (it churns), and an open
    ticket of a third account moved to a fourth (it had been filed on the wrong account)."""
    con = ingestor.dataset.con
    line = con.execute(
        "SELECT account_id, product, start_date, mrr FROM subscriptions WHERE account_id IN "
        "(SELECT account_id FROM subscriptions GROUP BY 1 HAVING count(*) = 1) "
        "AND end_date IS NULL ORDER BY account_id LIMIT 1"
    ).fetchall()[0]
    ticket, moved = con.execute(
        "SELECT account_id, ticket_id, opened_at, priority FROM tickets WHERE closed_at IS NULL "
        "AND account_id <> ? "
        "QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY ticket_id) = 1 "
        "ORDER BY ticket_id LIMIT 2",
        [line[0]],
    ).fetchall()
    customer = con.execute(
        "SELECT min(account_id) FROM subscriptions WHERE end_date IS NULL "
        "AND account_id NOT IN (?, ?, ?)",
        [line[0], ticket[0], moved[0]],
    ).fetchall()[0][0]
    closed = pd.Timestamp(last_day).isoformat()
    ended = (pd.Timestamp(last_day) - timedelta(days=45)).date().isoformat()
    return {
        "tickets": [
            {"account_id": ticket[0], "ticket_id": ticket[1], "opened_at": ticket[2].isoformat(),
             "priority": ticket[3], "closed_at": closed, "csat": 2},
            {"account_id": customer, "ticket_id": moved[1], "opened_at": moved[2].isoformat(),
             "priority": moved[3]},
        ],
        "subscriptions": [
            {"account_id": line[0], "product": line[1], "start_date": line[2].isoformat(),
             "mrr": line[3], "end_date": ended}
        ],
    }  # fmt: skip


def live_rows(url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every live score and roll-up, without their run ids, sorted."""
    store = HealthStore.open(url)
    try:
        with store.session() as session:
            scores = pd.DataFrame(
                [
                    {c: getattr(r, c) for c in SCORE_COLUMNS}
                    for r in session.scalars(select(HealthScore))
                ]
            )
            rollups = pd.DataFrame(
                [
                    {c.name: getattr(r, c.name) for c in ParentHealth.__table__.columns}
                    for r in session.scalars(select(ParentHealth))
                ]
            ).drop(columns=["run_id"])
    finally:
        store.close()
    return (
        scores.sort_values(["account_id", "as_of"], ignore_index=True),
        rollups.sort_values(["parent_id", "as_of", "weighting"], ignore_index=True),
    )


@pytest.mark.slow
def test_incremental_scores_equal_a_batch_run(
    sample_dir: Path, model_dir: Path, ingest_env: Path
) -> None:
    settings = get_settings()
    ingestor = Ingestor(sample_dir, settings.ingest)
    accounts = sorted(
        ingestor.dataset.con.execute("SELECT account_id FROM accounts").df()["account_id"]
    )
    last_day = ingestor.dataset.data_end.date()
    live_url = f"sqlite:///{ingest_env}/live.db"
    store = HealthStore.open(live_url)
    loaded = load_model(str(model_dir))
    rescorer = Rescorer(
        store, load_valid_dataset(sample_dir), IngestedStore(settings.ingest.store_dir, sample_dir)
    )
    first = rescorer.step(loaded)
    assert first is not None and first.full
    feature = ingestor.dataset.con.execute("SELECT min(feature) FROM events").fetchall()[0][0]
    rng = random.Random(11)
    rejected = 0
    for serial in range(6):
        rows = random_batch(rng, accounts, last_day, serial, feature)
        result = ingestor.ingest(rows, key=f"k{serial}")
        rejected += len(result.rejected)
        step = rescorer.step(loaded)
        assert step is not None and step.through == result.batch
        # a product feature used for the first time counts for everyone
        assert step.full == (serial == 4)
    assert rejected == 1  # the subscription of an unknown account
    updates = changes(ingestor, last_day)
    result = ingestor.ingest(updates, key="updates")
    assert result.accepted == {"subscriptions": 1, "tickets": 2}, result.rejected
    step = rescorer.step(loaded)
    # the moved ticket's old account lost a ticket without being in the batch: re-scored too
    assert step is not None and step.accounts == 4
    ended = updates["subscriptions"][0]["account_id"]
    refused = ingestor.ingest({"events": [{"account_id": "NOBODY", "timestamp": str(last_day),
                                           "event_type": "login"}]}, key="refused")  # fmt: skip
    assert refused.accepted == {"events": 0} and len(refused.rejected) == 1
    step = rescorer.step(loaded)  # nothing to re-score, but the batch is covered
    assert step is not None and step.accounts == 0 and rescorer.pending() == 0
    assert rescorer.step(loaded) is None
    # the partial steps since the first use of a feature scored everyone left what a batch gives
    assert_equals_a_batch_run(live_url, sample_dir, model_dir, ingest_env / "partial.db")
    # another process folds batches this rescorer has not taken in, twice: it loads it all again
    last = ingestor.ingest(random_batch(rng, accounts, last_day, 20, feature), key="far1").batch
    compact(ingestor.store, through=last)
    last = ingestor.ingest(random_batch(rng, accounts, last_day, 21, feature), key="far2").batch
    compact(ingestor.store, through=last)
    step = rescorer.step(loaded)
    assert step is not None and step.full and step.through == last and rescorer.pending() == 0
    rescorer.close()
    store.close()

    live_scores = assert_equals_a_batch_run(
        live_url, sample_dir, model_dir, ingest_env / "batch.db"
    )
    assert "NEW-1" in set(live_scores["account_id"])
    assert ended not in set(live_scores["account_id"])  # its only line ended: no customer now
    assert ended not in vectors(live_url, step.as_of)  # no customer: no vector, as after a batch


def assert_equals_a_batch_run(
    live_url: str, data_dir: Path, model_dir: Path, batch_db: Path
) -> pd.DataFrame:
    """Score ``data_dir`` in batch into ``batch_db``: the live scores, roll-ups and feature
    vectors must equal its own to the last bit. Returns the live scores."""
    batch_url = f"sqlite:///{batch_db}"
    score(str(data_dir), options=RunOptions(model=str(model_dir), database_url=batch_url))
    live_scores, live_rollups = live_rows(live_url)
    batch_scores, batch_rollups = live_rows(batch_url)
    pd.testing.assert_frame_equal(live_scores, batch_scores, check_exact=True)
    pd.testing.assert_frame_equal(live_rollups, batch_rollups, check_exact=True)
    as_of = live_scores["as_of"].max()
    assert vectors(live_url, as_of) == vectors(batch_url, as_of)
    return live_scores


def vectors(url: str, as_of: Any) -> dict[str, dict[str, Any]]:
    """The stored feature vectors of one date, by account."""
    store = HealthStore.open(url)
    try:
        with store.session() as session:
            query = select(AccountFeatures.account_id).where(AccountFeatures.as_of == as_of)
            accounts = list(session.scalars(query))
            found = read_latest_features(session, accounts, on_or_before=as_of)
            return {a: row.features for a, row in found.items() if row.as_of == as_of}
    finally:
        store.close()


def test_each_step_raises_the_alerts_of_the_accounts_it_scored(
    sample_dir: Path, model_dir: Path, ingest_env: Path
) -> None:
    settings = get_settings().model_copy(
        update={
            "alerts": AlertSettings.model_validate(
                {"rules": [{"name": "any", "kind": "parent_revenue_at_risk", "amount": 1e-9}]}
            ),
            "database_url": f"sqlite:///{ingest_env}/alerts.db",
            "ingest": get_settings().ingest.model_copy(update={"data_dir": str(sample_dir)}),
        }
    )
    store = HealthStore.open(settings.database_url)
    loaded = load_model(str(model_dir))
    worker = start_worker(settings, store, lambda: loaded, start=False)
    first = worker.turn()
    assert first is not None and first.full
    with store.session() as session:
        subjects = list(session.scalars(select(Alert.subject_id)))
        parents = set(session.scalars(select(ParentHealth.parent_id)))
    # a first roll-up above the amount fires: every parent, once
    assert parents and len(subjects) == len(set(subjects)) == len(parents)
    ingestor = Ingestor(sample_dir, settings.ingest)
    account = sorted(parents)[0]
    stamp = ingestor.dataset.data_end.isoformat()
    ingestor.ingest(
        {"events": [{"account_id": account, "timestamp": stamp, "event_type": "login"}]}
    )
    ingestor.close()
    # what back-pressure reads: one batch waiting, for some time now
    assert worker.rescorer.pending() == 1 and worker.rescorer.lag() > 0
    second = worker.turn()
    assert second is not None and second.touched == (account,)
    assert worker.rescorer.pending() == 0 and worker.rescorer.lag() == 0
    with store.session() as session:
        assert len(list(session.scalars(select(Alert.id)))) == len(parents)  # not raised again
    worker.stop()
    store.close()


def test_each_turn_folds_what_it_scored_and_merges_ranges_of_one_level(
    sample_dir: Path, model_dir: Path, ingest_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings().model_copy(
        update={
            "database_url": f"sqlite:///{ingest_env}/folding.db",
            "ingest": get_settings().ingest.model_copy(
                update={"data_dir": str(sample_dir), "compact_after": 1}
            ),
        }
    )
    monkeypatch.setattr(worker_module, "merge", functools.partial(merge, fanout=2))
    store = HealthStore.open(settings.database_url)
    loaded = load_model(str(model_dir))
    worker = start_worker(settings, store, lambda: loaded, start=False)
    assert worker.turn() is not None  # everyone scored; nothing to fold yet
    ingestor = Ingestor(sample_dir, settings.ingest)
    account = ingestor.dataset.con.execute("SELECT min(account_id) FROM accounts").fetchall()
    stamp = ingestor.dataset.data_end.isoformat()
    ranges = []
    for i in range(4):
        event = {"account_id": account[0][0], "timestamp": stamp, "event_type": f"e{i}"}
        ingestor.ingest({"events": [event]}, key=f"f{i}")
        assert worker.turn() is not None
        ranges.append([(r.first, r.last, r.level) for r in worker.rescorer.ingested.ranges()])
    ingestor.close()
    worker.stop()
    store.close()
    # one range a turn, two of a level merged at once: 1, 1-2, 1-2 3, 1-4
    assert ranges == [[(1, 1, 0)], [(1, 2, 1)], [(1, 2, 1), (3, 3, 0)], [(1, 4, 2)]]
    reloaded = load_valid_dataset(sample_dir)
    kinds = "SELECT event_type FROM events WHERE event_type LIKE 'e_' ORDER BY event_type"
    assert reloaded.con.execute(kinds).fetchall() == [("e0",), ("e1",), ("e2",), ("e3",)]
    reloaded.con.close()


@pytest.mark.slow
def test_the_worker_thread_recovers_from_a_failed_step_and_equals_a_batch_run(
    sample_dir: Path, model_dir: Path, ingest_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live_url = f"sqlite:///{ingest_env}/live.db"
    settings = get_settings().model_copy(
        update={
            "database_url": live_url,
            "ingest": get_settings().ingest.model_copy(
                # folding every two batches into a range, as the worker goes
                update={
                    "data_dir": str(sample_dir),
                    "rescore_every_seconds": 0.05,
                    "compact_after": 2,
                }
            ),
        }
    )
    store = HealthStore.open(live_url)
    loaded = load_model(str(model_dir))
    worker = start_worker(settings, store, lambda: loaded, start=False)
    applied, failed = worker.rescorer.apply, []

    def apply_failing_once(work: Any) -> Any:
        if not work.full and not failed:  # the store is down for one partial step
            failed.append(work.through)
            raise RuntimeError("store down")
        return applied(work)

    monkeypatch.setattr(worker.rescorer, "apply", apply_failing_once)
    ingestor = Ingestor(sample_dir, settings.ingest)
    accounts = sorted(
        ingestor.dataset.con.execute("SELECT account_id FROM accounts").df()["account_id"]
    )
    last_day = ingestor.dataset.data_end.date()
    feature = ingestor.dataset.con.execute("SELECT min(feature) FROM events").fetchall()[0][0]
    rng = random.Random(5)
    worker.start()
    deadline = time.monotonic() + 120
    while not worker.state.steps and time.monotonic() < deadline:  # everyone scored first
        time.sleep(0.05)
    for serial in range(5, 13):  # batches arrive while steps read and score (none scores all)
        ingestor.ingest(random_batch(rng, accounts, last_day, serial, feature), key=f"w{serial}")
    deadline = time.monotonic() + 120
    while worker.rescorer.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.stop()
    ingestor.close()
    assert failed and worker.rescorer.pending() == 0 and worker.state.error is None
    assert worker.rescorer.ingested.compacted_through() >= 2  # a range folded while it ran
    store.close()

    assert_equals_a_batch_run(live_url, sample_dir, model_dir, ingest_env / "batch.db")
