"""The health store on SQLite and PostgreSQL: schema, atomic publication, queries, bad databases."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, insert, select

from vitals.serving.store import (
    HealthRepository,
    HealthScore,
    HealthStore,
    RawJSON,
    ScoringRun,
    StoreError,
    current_revision,
    head_revision,
)
from vitals.serving.store.schema import Base, StagedHealthScore, StagedParentHealth

D1, D2, D3 = date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)


def score_rows(as_of: date, health: dict[str, float], version: str = "v1") -> list[dict]:
    """Store rows for accounts a1..: band and revenue at risk follow the health score."""
    rows = []
    for account, score in health.items():
        p = 1.0 - score / 100.0
        rows.append({
            "account_id": account, "as_of": as_of, "model_version": version,
            "parent_id": "p1" if account != "p1" else None, "segment": "smb",
            "profile": "smb" if account != "a3" else "enterprise", "pooled": False,
            "churn_probability": p, "health_score": score,
            "band": "good" if score >= 80 else "poor" if score < 50 else "average",
            "baseline_score": 75.0, "contract_value": 1000.0, "revenue_at_risk": p * 1000.0,
            "reasons": RawJSON(f'[{{"rank":1,"feature":"logins_30d","health_points":{score-75}}}]'),
            "risk_30d": p / 3, "risk_90d": p, "risk_180d": min(1.0, 2 * p),
            "risk_365d": min(1.0, 4 * p), "renewal_risk": p, "days_to_renewal": 40.0,
            "renewal_revenue_at_risk": p * 1000.0, "scorecard_score": score - 5.0,
            "scorecard_band": "average", "scorecard_points": RawJSON("[]"),
        })  # fmt: skip
    return rows


def rollup_rows(as_of: date, health: float, version: str = "v1") -> list[dict]:
    return [{
        "parent_id": "p1", "as_of": as_of, "model_version": version, "weighting": w,
        "depth": 0, "own_usage": False, "n_accounts": 3, "weight": 3.0, "share_good": 1 / 3,
        "share_average": 1 / 3, "share_poor": 1 / 3, "health": health, "contract_value": 3000.0,
        "revenue_at_risk": 900.0, "pulling_down": [{"rank": 1, "child_id": "a2"}], "reasons": [],
        "renewal_revenue_at_risk": 900.0,
    } for w in ("count", "contract_value")]  # fmt: skip


def publish(store: HealthStore, days: dict[date, dict[str, float]], version: str = "v1") -> int:
    writer = store.writer()
    run = writer.begin(kind="backfill", model_uri="test", model_version=version,
                       engine="duckdb", dates=list(days))  # fmt: skip
    for day, health in days.items():
        writer.stage(run, score_rows(day, health, version), rollup_rows(day, 50.0, version))
    writer.publish(run)
    return run


@pytest.fixture
def store(database_url: str):
    opened = HealthStore.open(database_url)
    yield opened
    opened.close()


def stored(store: HealthStore) -> dict[tuple[str, date], tuple[float, str]]:
    with store.session() as session:
        rows = session.scalars(select(HealthScore)).all()
        return {(r.account_id, r.as_of): (r.health_score, r.model_version) for r in rows}


def staged_count(store: HealthStore) -> int:
    with store.session() as session:
        return sum(
            session.scalar(select(func.count()).select_from(t))
            for t in (StagedHealthScore, StagedParentHealth)
        )


def test_migrations_build_exactly_the_declared_schema(store: HealthStore) -> None:
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    HealthStore.open(store.engine.url.render_as_string(hide_password=False)).close()  # no-op
    assert current_revision(store.engine) == head_revision()


def test_publish_swaps_the_window_and_readers_see_the_old_history_until_then(
    store: HealthStore,
) -> None:
    publish(store, {D1: {"a1": 90.0, "a2": 60.0}, D2: {"a1": 85.0}, D3: {"a1": 80.0}})
    before = stored(store)
    writer = store.writer()
    run = writer.begin(kind="backfill", model_uri="test", model_version="v2", engine="duckdb",
                       dates=[D2, D3])  # fmt: skip
    writer.stage(run, score_rows(D2, {"a1": 40.0, "a2": 45.0}, "v2"), rollup_rows(D2, 10.0, "v2"))
    writer.stage(run, score_rows(D3, {"a1": 30.0}, "v2"), rollup_rows(D3, 5.0, "v2"))
    assert stored(store) == before  # staged, not yet visible
    assert writer.publish(run) == 3
    after = stored(store)
    assert after == {
        ("a1", D1): (90.0, "v1"),
        ("a2", D1): (60.0, "v1"),
        ("a1", D2): (40.0, "v2"),
        ("a2", D2): (45.0, "v2"),
        ("a1", D3): (30.0, "v2"),
    }
    assert staged_count(store) == 0
    with store.session() as session:
        repository = HealthRepository(session)
        assert [r.health for r in repository.parent_history("p1")] == [50.0, 10.0, 5.0]
        assert repository.runs()[0].status == "complete"
        assert repository.runs()[0].n_scores == 3


def test_a_failed_run_leaves_the_history_and_drops_what_it_staged(store: HealthStore) -> None:
    publish(store, {D1: {"a1": 90.0}})
    before = stored(store)
    writer = store.writer()
    run = writer.begin(kind="score", model_uri="test", model_version="v2", engine="duckdb",
                       dates=[D1])  # fmt: skip
    writer.stage(run, score_rows(D1, {"a1": 10.0}, "v2"), rollup_rows(D1, 0.0, "v2"))
    writer.fail(run, "KeyboardInterrupt: ")
    assert stored(store) == before
    assert staged_count(store) == 0
    with store.session() as session:
        last = HealthRepository(session).runs()[0]
    assert (last.status, last.error) == ("failed", "KeyboardInterrupt: ")


def test_a_run_abandoned_by_a_killed_process_is_cleaned_up_by_the_next(store: HealthStore) -> None:
    writer = store.writer()
    run = writer.begin(kind="backfill", model_uri="test", model_version="v1", engine="duckdb",
                       dates=[D1])  # fmt: skip
    writer.stage(run, score_rows(D1, {"a1": 10.0}), [])
    with store.engine.begin() as conn:  # the process died long ago
        conn.execute(
            ScoringRun.__table__.update().values(started_at=datetime.now(UTC) - timedelta(days=2))
        )
    publish(store, {D2: {"a1": 70.0}})
    assert staged_count(store) == 0
    with store.session() as session:
        statuses = {r.id: r.status for r in HealthRepository(session).runs()}
    assert statuses[run] == "failed"


def test_queries_answer_what_the_worklist_and_account_pages_ask(store: HealthStore) -> None:
    publish(store, {D1: {"a1": 90.0, "a2": 70.0, "a3": 40.0}})
    publish(store, {D2: {"a1": 60.0, "a2": 75.0, "a3": 45.0, "a4": 95.0}}, version="v2")
    with store.session() as session:
        repo = HealthRepository(session)
        assert repo.dates() == [D1, D2]
        assert repo.latest_date() == D2
        assert repo.previous_date(D2) == D1
        assert repo.reference_date(D2, 7) == D1
        assert repo.reference_date(D2, 8) is None
        assert repo.reference_date(date(3, 1, 1), 1024) is None  # before year 1: no date at all
        latest = repo.latest()
        assert [(r.account_id, r.as_of) for r in latest] == [
            ("a1", D2), ("a2", D2), ("a3", D2), ("a4", D2)
        ]  # fmt: skip
        assert latest[0].reasons == [{"rank": 1, "feature": "logins_30d", "health_points": -15.0}]
        assert [r.health_score for r in repo.history("a1")] == [90.0, 60.0]
        assert [r.health_score for r in repo.history("a1", start=D2)] == [60.0]
        worst = repo.scores_on(D2, limit=2)
        assert [r.account_id for r in worst] == ["a3", "a1"]
        assert [r.account_id for r in repo.scores_on(D2, bands=["average"])] == ["a1", "a2"]
        assert [r.account_id for r in repo.scores_on(D2, profiles=["enterprise"])] == ["a3"]
        risky = repo.scores_on(D2, min_revenue_at_risk=300.0, order_by="revenue_at_risk")
        assert [r.account_id for r in risky] == ["a3", "a1"]
        children = repo.scores_on(D2, parent_id="p1")
        assert {r.account_id for r in children} == {"a1", "a2", "a3", "a4"}
        bands = {b.band: (b.accounts, b.revenue_at_risk) for b in repo.band_summary(D2)}
        assert bands == {"good": (1, pytest.approx(50.0)), "average": (2, pytest.approx(650.0)),
                         "poor": (1, pytest.approx(550.0))}  # fmt: skip
        falls = repo.score_changes(D2, D1, limit=1)
        assert [(c.account_id, c.change, c.band_then, c.band_now) for c in falls] == [
            ("a1", -30.0, "good", "average")
        ]
        rises = repo.score_changes(D2, D1, falling=False)
        assert [c.account_id for c in rises] == ["a2", "a3", "a1"]  # a4 is new: no change
        rollups = repo.rollups(D2, "contract_value")
        assert [(r.parent_id, r.weighting, r.model_version) for r in rollups] == [
            ("p1", "contract_value", "v2")
        ]
        assert rollups[0].pulling_down == [{"rank": 1, "child_id": "a2"}]
        with pytest.raises(ValueError, match="order_by"):
            repo.scores_on(D2, order_by="name")


def test_a_read_only_sqlite_store_is_refused_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "vitals.db"
    HealthStore.open(f"sqlite:///{path}").close()
    read_only = HealthStore.open(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(StoreError, match="read-only"):
            read_only.writer().check_writable()
        with pytest.raises(StoreError, match="read-only"):
            read_only.writer().begin(kind="score", model_uri="m", model_version="v",
                                     engine="duckdb", dates=[D1])  # fmt: skip
    finally:
        read_only.close()


def test_a_store_that_is_down_gives_one_clear_error() -> None:
    pytest.importorskip("psycopg")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    url = f"postgresql+psycopg://vitals:secret@127.0.0.1:{port}/vitals"
    with pytest.raises(StoreError, match="cannot be reached") as caught:
        HealthStore.open(url)
    assert "secret" not in str(caught.value)
    assert "***" in str(caught.value)


def test_an_unknown_driver_is_named() -> None:
    with pytest.raises(StoreError, match="no driver"):
        HealthStore.open("mysql+nosuchdriver://u@127.0.0.1/db")


def test_staging_rows_with_the_wrong_columns_are_rejected(store: HealthStore) -> None:
    writer = store.writer()
    run = writer.begin(kind="score", model_uri="m", model_version="v", engine="duckdb", dates=[D1])
    with pytest.raises(KeyError):
        writer.stage(run, [{"account_id": "a1"}], [])
    with store.engine.begin() as conn:
        conn.execute(insert(StagedHealthScore), [{"run_id": run, **score_rows(D1, {"a1": 1.0})[0]}])
    writer.fail(run, "test")
    assert staged_count(store) == 0
