"""Builders for the alert tests: scores and roll-ups written straight into a store, alert rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert

from vitals.config.alerts import AlertSettings
from vitals.serving.store import HealthScore, HealthStore, ParentHealth, ScoringRun

SECRET = "a-shared-secret-of-some-length"
VERSION = "test-1"


def band_of(score: float) -> str:
    """The band of a score with the default cut-offs used here (good >= 70, poor < 40)."""
    return "good" if score >= 70 else "poor" if score < 40 else "average"


def score_row(account_id: str, as_of: date, score: float, **values: Any) -> dict[str, Any]:
    """A ``health_scores`` row; ``values`` override any column (e.g. ``risk_90d``)."""
    return {
        "account_id": account_id,
        "as_of": as_of,
        "model_version": VERSION,
        "parent_id": None,
        "segment": "smb",
        "profile": "smb",
        "pooled": True,
        "churn_probability": 0.1,
        "health_score": score,
        "band": band_of(score),
        "baseline_score": 50.0,
        "contract_value": 1000.0,
        "revenue_at_risk": 100.0,
        "reasons": [{"rank": 1, "feature": "logins_30d", "label": "Logins", "health_points": -3.0}],
        **values,
    }


def rollup_row(
    parent_id: str, as_of: date, revenue_at_risk: float | None, weighting: str = "contract_value"
) -> dict[str, Any]:
    """A ``parent_health`` row."""
    return {
        "parent_id": parent_id,
        "as_of": as_of,
        "model_version": VERSION,
        "weighting": weighting,
        "depth": 1,
        "own_usage": False,
        "n_accounts": 3,
        "weight": 3.0,
        "share_good": 0.5,
        "share_average": 0.25,
        "share_poor": 0.25,
        "health": 62.5,
        "contract_value": 3000.0,
        "revenue_at_risk": revenue_at_risk,
        "pulling_down": [{"rank": 1, "child_id": "C1", "child_health": 20.0}],
        "reasons": [{"rank": 1, "feature": "seats", "label": "Seats", "health_points": -4.0}],
    }


def publish(
    store: HealthStore,
    scores: Iterable[dict[str, Any]] = (),
    rollups: Iterable[dict[str, Any]] = (),
) -> None:
    """Write rows into the live tables under a new completed run."""
    scores, rollups = list(scores), list(rollups)
    days = [r["as_of"] for r in [*scores, *rollups]]
    with store.engine.begin() as conn:
        run = conn.execute(
            insert(ScoringRun).returning(ScoringRun.id),
            {
                "kind": "score",
                "status": "complete",
                "model_uri": "test",
                "model_version": VERSION,
                "engine": "duckdb",
                "first_as_of": min(days),
                "last_as_of": max(days),
                "n_dates": len(set(days)),
                "n_scores": len(scores),
                "started_at": datetime.now(UTC),
            },
        ).scalar_one()
        if scores:
            conn.execute(insert(HealthScore), [{**r, "run_id": run} for r in scores])
        if rollups:
            conn.execute(insert(ParentHealth), [{**r, "run_id": run} for r in rollups])


def settings(*rules: dict[str, Any], webhooks: Iterable[dict[str, Any]] = ()) -> AlertSettings:
    """Alert settings from plain dictionaries, as the TOML file gives them."""
    return AlertSettings.model_validate({"rules": list(rules), "webhooks": list(webhooks)})
