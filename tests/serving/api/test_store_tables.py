"""Migrations 0002 and 0003, and the tables the API reads: feature vectors, the account tree."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import vitals.serving.api.auth  # noqa: F401  (declares api_keys on the store's metadata)
from vitals.serving.store import HealthStore, current_revision, head_revision
from vitals.serving.store.features_table import (
    read_latest_features,
    read_subtree,
    write_hierarchy,
    write_latest_features,
)
from vitals.serving.store.schema import Base

D1, D2, D3 = date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)


@pytest.fixture
def store(tmp_path: Path):
    opened = HealthStore.open(f"sqlite:///{tmp_path}/tables.db")
    yield opened
    opened.close()


def frame(values: dict[str, float], day: date) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": list(values),
            "as_of": pd.Timestamp(day),
            "logins_30d": list(values.values()),
            "segment": (["smb", None, "enterprise"] * len(values))[: len(values)],
            "nps": np.nan,
            "churned_within_horizon": 1,
            "churn_date": pd.Timestamp("2026-05-01"),
        }
    )


def test_migrations_build_exactly_the_declared_schema(store: HealthStore) -> None:
    assert current_revision(store.engine) == head_revision() == "0011"
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_vectors_keep_history_and_the_newest_wins(store: HealthStore) -> None:
    write_latest_features(store, frame({"a": 1.0, "b": 2.0}, D1), D1, "v1")
    write_latest_features(store, frame({"a": 3.0}, D2), D2, "v2")
    write_latest_features(store, frame({"a": 5.0}, D2), D2, "v3")  # a rerun replaces the date
    with store.session() as session:
        latest = read_latest_features(session, ["a", "b", "zz", "a"])
        before = read_latest_features(session, ["a"], on_or_before=D1)
    assert set(latest) == {"a", "b"}
    assert (latest["a"].as_of, latest["a"].model_version) == (D2, "v3")
    assert latest["a"].features == {"logins_30d": 5.0, "segment": "smb", "nps": None}
    assert latest["b"].features["segment"] is None and latest["b"].as_of == D1
    assert before["a"].features["logins_30d"] == 1.0


def test_old_vectors_are_pruned(store: HealthStore) -> None:
    write_latest_features(store, frame({"a": 1.0}, D1), D1, "v1")
    write_latest_features(store, frame({"a": 2.0}, D3), D3, "v1", keep_days=30)
    with store.session() as session:
        assert read_latest_features(session, ["a"], on_or_before=D2) == {}


def test_one_vector_per_account_and_date(store: HealthStore) -> None:
    doubled = pd.concat([frame({"a": 1.0}, D1)] * 2)
    with pytest.raises(ValueError, match="repeats"):
        write_latest_features(store, doubled, D1, "v1")


def test_subtrees_come_parents_first_and_include_unscored_parents(store: HealthStore) -> None:
    tree = pd.DataFrame(
        {
            "account_id": ["root", "unit", "p1", "p2", "other", "leaf"],
            "parent_id": [None, "root", "unit", "unit", None, "root"],
        }
    )
    write_hierarchy(store, tree, D1)
    write_hierarchy(store, tree, D2)  # replaced, not appended
    with store.session() as session:
        edges = read_subtree(session, "root")
        assert read_subtree(session, "unit") == [("unit", "root"), ("p1", "unit"), ("p2", "unit")]
        assert read_subtree(session, "missing") == []
    assert edges[0] == ("root", None)
    assert {a for a, _ in edges} == {"root", "unit", "p1", "p2", "leaf"}
    position = {a: i for i, (a, _) in enumerate(edges)}
    assert all(position[p] < position[a] for a, p in edges if p is not None)


def test_many_accounts_read_like_a_few(store: HealthStore) -> None:
    many = {f"a{i:02d}": float(i) for i in range(12)}
    write_latest_features(store, frame(dict(list(many.items())[:3]), D1), D1, "v1")
    write_latest_features(store, frame(many, D2).assign(segment="smb"), D2, "v2")
    with store.session() as session:
        together = read_latest_features(session, list(many))
        early = read_latest_features(session, list(many), on_or_before=D1)
        one_by_one = {a: read_latest_features(session, [a])[a] for a in many}
    assert together == one_by_one and len(together) == 12
    assert set(early) == {"a00", "a01", "a02"} and early["a01"].as_of == D1


def test_a_store_from_before_the_curve_upgrades_and_its_scores_still_read(
    tmp_path: Path,
) -> None:
    from sqlalchemy import text

    from vitals.serving.api.account_views import summary
    from vitals.serving.store import HealthRepository, create_store_engine, upgrade

    url = f"sqlite:///{tmp_path}/old.db"
    engine = create_store_engine(url)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO scoring_runs (id, kind, status, model_uri, model_version, engine, "
                "first_as_of, last_as_of, n_dates, n_scores, started_at) VALUES (1, 'score', "
                "'complete', 'm', 'v1', 'duckdb', '2026-01-01', '2026-01-01', 1, 1, "
                "'2026-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO health_scores (account_id, as_of, model_version, run_id, profile, "
                "pooled, churn_probability, health_score, band, reasons) VALUES ('a1', "
                "'2026-01-01', 'v1', 1, 'smb', 0, 0.2, 80.0, 'good', '[]')"
            )
        )
    engine.dispose()
    store = HealthStore.open(url)  # migrates to the head
    try:
        assert current_revision(store.engine) == head_revision()
        with store.session() as session:
            row = HealthRepository(session).latest(["a1"])[0]
            view = summary(row)
        assert (view.health_score, view.churn_probability) == (80.0, 0.2)
        assert view.curve == [] and view.renewal_risk is None and view.risk_context == []
    finally:
        store.close()


def test_a_score_with_a_curve_reads_as_curve_points_and_risk_context() -> None:
    from vitals.serving.api.account_views import summary
    from vitals.serving.store import HealthScore

    row = HealthScore(
        account_id="a1", as_of=D1, model_version="v1", run_id=1, parent_id=None, segment="smb",
        profile="smb", pooled=False, churn_probability=0.05, health_score=80.0, band="good",
        baseline_score=75.0, contract_value=1000.0, revenue_at_risk=50.0, reasons=[],
        risk_30d=0.01, risk_90d=0.05, risk_180d=0.08, risk_365d=0.15, renewal_risk=0.04,
        days_to_renewal=60.0, renewal_revenue_at_risk=40.0,
    )  # fmt: skip
    view = summary(row)
    assert [(p.days, p.risk) for p in view.curve] == [
        (30, 0.01), (90, 0.05), (180, 0.08), (365, 0.15)
    ]  # fmt: skip
    assert view.curve[-1].survival == pytest.approx(0.85)
    assert view.risk_context[0].startswith("Renewal in 60 days: 4% risk")
    assert "15% within 365 days" in view.risk_context[1]
