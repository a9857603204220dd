"""Raising alerts from a store: deduplicated, queued to the right webhooks, with their reasons;
and the migration of their tables."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alertkit import SECRET, publish, rollup_row, score_row, settings
from sqlalchemy import func, inspect, select

from vitals.features.build import Snapshots
from vitals.models.health_model import HealthModel
from vitals.models.playbook import load_playbook
from vitals.serving.alerts.raise_alerts import raise_alerts
from vitals.serving.store import Alert, AlertDelivery, HealthStore, upgrade
from vitals.serving.store.features_table import write_hierarchy, write_latest_features
from vitals.serving.store.migrate import alembic_config
from vitals.serving.store.schema import Base

D0, D7, D14 = date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 15)
HOOK_ALL = {"url": "http://127.0.0.1:9/all", "secret": SECRET}
HOOK_BANDS = {"url": "http://127.0.0.1:9/bands", "secret": SECRET, "rules": ["to-poor"]}
TO_POOR = {"name": "to-poor", "kind": "band_drop", "to": "poor", "severity": "critical"}
RISKY = {"name": "risky", "kind": "risk_above", "days": 90, "threshold": 0.5}
FALL = {"name": "fall", "kind": "score_drop", "points": 15, "days": 10}


def counts(store: HealthStore) -> tuple[int, int]:
    with store.session() as session:
        alerts = session.scalar(select(func.count()).select_from(Alert))
        deliveries = session.scalar(select(func.count()).select_from(AlertDelivery))
    return alerts, deliveries


def test_evaluating_the_same_data_twice_stores_each_alert_once(store: HealthStore) -> None:
    publish(
        store,
        [
            score_row("A", D0, 80, risk_90d=0.2), score_row("A", D7, 30, risk_90d=0.6),
            score_row("B", D0, 60, risk_90d=0.2), score_row("B", D7, 58, risk_90d=0.1),
            score_row("C", D0, 60, risk_90d=0.4), score_row("C", D7, 55, risk_90d=0.5),
        ],
    )  # fmt: skip
    rules = settings(TO_POOR, RISKY, FALL, webhooks=[HOOK_ALL, HOOK_BANDS])
    raised = raise_alerts(store, rules, None, D7)
    assert [(a.rule, a.subject_id) for a in raised] == [
        ("to-poor", "A"),
        ("risky", "A"),
        ("risky", "C"),
        ("fall", "A"),
    ]
    assert [a.id for a in raised] == sorted(a.id for a in raised)
    assert counts(store) == (4, 4 + 1)  # every alert to HOOK_ALL, the band drop to HOOK_BANDS too
    assert raise_alerts(store, rules, None, D7) == []
    assert raise_alerts(store, rules, None, D7, account_ids=["A", "C"]) == []
    assert counts(store) == (4, 5)

    band = raised[0]
    assert (band.kind, band.subject_kind, band.severity) == ("band_drop", "account", "critical")
    assert band.as_of == D7 and band.model_version == "test-1"
    assert band.details["rule"] == {**TO_POOR}
    assert band.details["before"] == {"as_of": "2026-03-01", "band": "good", "health_score": 80.0}
    assert band.details["reasons_kind"] == "current"  # no model: the new score's stored reasons
    assert band.details["reasons"][0]["feature"] == "logins_30d"
    with store.session() as session:
        hooks = session.scalars(
            select(AlertDelivery.webhook_url).where(AlertDelivery.alert_id == band.id)
        ).all()
    assert sorted(hooks) == sorted([HOOK_ALL["url"], HOOK_BANDS["url"]])


def test_a_later_date_raises_only_what_started_then(store: HealthStore) -> None:
    publish(store, [score_row("A", D0, 80), score_row("A", D7, 30), score_row("A", D14, 25)])
    rules = settings(TO_POOR, FALL)
    assert len(raise_alerts(store, rules, None, D7)) == 2
    assert raise_alerts(store, rules, None, D14) == []  # still poor, the same fall
    assert raise_alerts(store, rules, None, D0) == []  # nothing before the first date


def test_account_ids_limit_the_accounts_and_reach_the_parents_above(store: HealthStore) -> None:
    revenue = {"amount": 1000, "kind": "parent_revenue_at_risk", "name": "revenue"}
    publish(
        store,
        [score_row(a, d, s) for a in ("A", "B") for d, s in ((D0, 80), (D7, 30))],
        [rollup_row(p, d, r) for p in ("P", "Top", "Q") for d, r in ((D0, 10.0), (D7, 5000.0))],
    )
    tree = pd.DataFrame(
        {"account_id": ["A", "B", "P", "Top", "Q"], "parent_id": ["P", "Q", "Top", None, None]}
    )
    write_hierarchy(store, tree, D7)
    rules = settings(TO_POOR, revenue)
    raised = raise_alerts(store, rules, None, D7, account_ids=["A"])
    assert [(a.subject_kind, a.subject_id) for a in raised] == [
        ("account", "A"),
        ("parent", "P"),
        ("parent", "Top"),
    ]
    parent = raised[1]
    assert parent.details["reasons"][0]["feature"] == "seats"
    assert parent.details["pulling_down"][0]["child_id"] == "C1"
    assert parent.details["after"]["revenue_at_risk"] == 5000.0
    rest = raise_alerts(store, rules, None, D7)
    assert [(a.subject_kind, a.subject_id) for a in rest] == [("account", "B"), ("parent", "Q")]


@pytest.fixture
def two_dates(sample_snapshots: Snapshots) -> tuple[pd.DataFrame, date, date]:
    """The last two monthly snapshots of the sample data."""
    frame = sample_snapshots.to_pandas()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    then, now = sorted(frame["as_of"].unique())[-2:]
    return frame, then, now


def test_an_account_alert_explains_the_change_with_the_model(
    store: HealthStore, health_model: HealthModel, two_dates: tuple[pd.DataFrame, date, date]
) -> None:
    frame, then, now = two_dates
    both = set(frame.loc[frame["as_of"] == then, "account_id"]) & set(
        frame.loc[frame["as_of"] == now, "account_id"]
    )
    explained, unexplained = sorted(both)[:2]
    for day in (then, now):
        rows = frame[(frame["as_of"] == day) & (frame["account_id"] == explained)]
        write_latest_features(store, rows, day, "test-1")
    publish(store, [score_row(a, d, s) for a in both for d, s in ((then, 85), (now, 20))])
    raised = raise_alerts(store, settings(TO_POOR), health_model, now, [explained, unexplained])
    by_account = {a.subject_id: a.details for a in raised}

    details = by_account[explained]
    change = details["change"]
    assert details["reasons_kind"] == "change" and change["explained"]
    assert change["reference_date"] == then.isoformat() == change["features_then_as_of"]
    assert (change["score_then"], change["score_now"]) == (85.0, 20.0)  # the stored scores
    points = sum(r["health_points"] for r in details["reasons"])
    assert points == pytest.approx(change["explained_change"], abs=1e-6)
    assert details["reasons"] and all(r["sentence"] for r in details["reasons"])

    fallback = by_account[unexplained]
    assert fallback["reasons_kind"] == "current" and fallback["reasons"][0]["feature"]
    assert "not explained" in fallback["change"]["note"]


def test_without_scores_at_the_date_nothing_is_raised(store: HealthStore) -> None:
    publish(store, [score_row("A", D0, 80)])
    assert raise_alerts(store, settings(TO_POOR, RISKY, FALL), None, D0 + timedelta(1)) == []
    assert raise_alerts(store, settings(), None, D0) == []


def test_migration_0005_builds_the_declared_alert_tables(store: HealthStore) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "alert" in str(d)] == []
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    assert not {"alerts", "alert_deliveries"} & set(inspect(store.engine).get_table_names())
    upgrade(store.engine)
    assert {"alerts", "alert_deliveries"} <= set(inspect(store.engine).get_table_names())


def test_alerts_carry_the_playbooks_next_steps_for_their_reasons(store: HealthStore) -> None:
    publish(store, [score_row("A", D0, 80), score_row("A", D7, 30)])
    playbook = load_playbook()  # the default, which has a rule for falling logins
    raised = raise_alerts(store, settings(TO_POOR), None, D7, playbook=playbook)
    [alert] = raised
    steps = alert.details["next_steps"]
    assert steps and steps[0]["action"]
    assert {t["matched_feature"] for s in steps for t in s["reasons"]} == {"logins_30d"}


def test_an_alert_gets_only_the_steps_of_its_accounts_profile(
    store: HealthStore, tmp_path: Path
) -> None:
    playbook_file = tmp_path / "playbook.toml"
    playbook_file.write_text(
        "\n".join(
            f'[[rules]]\nfeature = "logins_30d"\ndirection = "lowers"\nprofile = "{p}"\n'
            f'action = "Call the {p} champion"\n'
            for p in ("smb", "enterprise")
        )
    )
    playbook = load_playbook(playbook_file)
    publish(
        store,
        [score_row(a, d, s, profile=p) for a, p in (("S", "smb"), ("E", "enterprise"))
         for d, s in ((D0, 80), (D7, 30))],
    )  # fmt: skip
    raised = raise_alerts(store, settings(TO_POOR), None, D7, playbook=playbook)
    steps = {a.subject_id: [s["action"] for s in a.details["next_steps"]] for a in raised}
    assert steps == {"S": ["Call the smb champion"], "E": ["Call the enterprise champion"]}
    assert {a.details["profile"] for a in raised} == {"smb", "enterprise"}
