"""The survival pieces training fits, and the out-of-time report of the curve."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vitals.models.calendar import CALENDAR_FEATURES
from vitals.models.health_model import HealthModel
from vitals.models.survival import HORIZONS
from vitals.training.pipeline import TrainingOutcome, figures
from vitals.training.survival_report import d_calibration


def test_health_boosters_never_split_on_the_calendar(outcome: TrainingOutcome) -> None:
    for profile in outcome.model.profiles_.values():
        booster = profile.piece.booster
        gains = dict(zip(booster.feature_name(), booster.feature_importance("split"), strict=True))
        assert all(gains.get(name, 0) == 0 for name in CALENDAR_FEATURES)
        risk = profile.piece.risk
        assert risk is not None and risk.step_days == 30
        timing = dict(
            zip(risk.booster.feature_name(), risk.booster.feature_importance("split"), strict=True)
        )
        assert timing["days_to_renewal"] > 0  # the risk side does read the calendar


def test_health_does_not_move_with_the_calendar_but_risk_does(outcome: TrainingOutcome) -> None:
    test = outcome.split.test
    later = test.assign(
        days_to_renewal=np.maximum(test["days_to_renewal"] - 40.0, 1.0),
        tenure_days=test["tenure_days"] + 40,
    )
    now, moved = outcome.model.predict(test), outcome.model.predict(later)
    # past every tenure-bound profile, a year ahead is spent in today's profile either way
    same = (test["tenure_days"] >= 90).to_numpy()
    assert same.mean() > 0.5
    np.testing.assert_array_equal(now["health_score"][same], moved["health_score"][same])
    assert not np.allclose(now["risk_90d"][same], moved["risk_90d"][same])


def test_the_curve_rises_with_the_horizon_and_the_anchor_is_the_classifier(
    outcome: TrainingOutcome,
) -> None:
    scores = outcome.test_scores
    curve = scores[[f"risk_{d}d" for d in HORIZONS]].to_numpy()
    assert np.isfinite(curve).all()
    assert (np.diff(curve, axis=1) >= 0).all()
    np.testing.assert_array_equal(scores["risk_90d"], scores["churn_probability"])
    renewal = scores["renewal_risk"].to_numpy()
    soon = (outcome.split.test["days_to_renewal"] <= 29).to_numpy()
    assert soon.any() and np.isfinite(renewal[soon]).all()
    # a renewal within 30 days: the risk by then is at most the 30-day risk
    assert (renewal[soon] <= scores["risk_30d"].to_numpy()[soon] + 1e-12).all()


def test_the_report_scores_each_horizon_it_can_and_says_why_not_for_the_others(
    outcome: TrainingOutcome,
) -> None:
    survival = outcome.report["survival"]
    assert survival["available"] is True
    short = survival["horizons"]["30d"]
    assert short["rows_followed_up"] > 0 and 0.5 < short["auc"] <= 1.0
    assert (
        survival["horizons"]["90d"]["auc"] == outcome.report["models"]["vitals"]["overall"]["auc"]
    )
    unreachable = [h for h in survival["horizons"].values() if h["rows_followed_up"] == 0]
    assert all("reason" in h for h in unreachable)
    ibs = survival["integrated_brier"]
    assert 0 < ibs["vitals"] < 1 and 0 < ibs["kaplan_meier"] < 1
    curve = survival["mean_curve"]
    assert len(curve["days"]) == len(curve["predicted_survival"]) == len(curve["kaplan_meier_test"])
    assert np.all(np.diff(curve["predicted_survival"]) <= 1e-12)
    assert "plots/survival.png" in figures(outcome)


def test_a_saved_model_keeps_its_curve(outcome: TrainingOutcome, tmp_path) -> None:
    loaded = HealthModel.load(outcome.model.save(tmp_path / "model"))
    rows = outcome.split.test.head(50)
    pd.testing.assert_frame_equal(loaded.predict(rows), outcome.model.predict(rows))


def test_d_calibration_tells_uniform_from_skewed() -> None:
    rng = np.random.default_rng(0)
    uniform = d_calibration(rng.uniform(size=4000), np.ones(4000, dtype=bool))
    skewed = d_calibration(rng.uniform(size=4000) ** 3, np.ones(4000, dtype=bool))
    assert uniform["calibrated"] and not skewed["calibrated"]
    assert abs(sum(uniform["shares"]) - 1) < 1e-3
    # a censored row at survival 0.5 spreads evenly over the five lower bins
    spread = d_calibration(np.array([0.5]), np.array([False]))
    np.testing.assert_allclose(spread["shares"], [0.2] * 5 + [0.0] * 5)


def test_risk_reasons_may_name_the_calendar_and_add_up(outcome: TrainingOutcome) -> None:
    model = outcome.model
    rows = outcome.split.test.head(300)
    reasons = model.explain_risk(rows, top_k=len(model.feature_names_))
    assert reasons["sentence"].str.contains("points? of risk").all()
    assert reasons["feature"].isin(["days_to_renewal", "tenure_days", "onboarding"]).any()
    # every measure listed: they add up to the risk above the booster's base value
    total = reasons.groupby("account_id")["health_points"].sum()
    assert total.abs().max() > 0.1
    later = rows.assign(
        days_to_renewal=np.maximum(rows["days_to_renewal"] - 30.0, 1.0),
        tenure_days=rows["tenure_days"] + 30,
    )
    change = model.explain_risk_change(rows, later)
    moved = change.groupby("account_id")["health_points"].sum()
    expected = 100 * (
        model.predict(later)["churn_probability"].to_numpy()
        - model.predict(rows)["churn_probability"].to_numpy()
    )
    ids = rows["account_id"].to_numpy()
    np.testing.assert_allclose(moved.reindex(ids, fill_value=0.0), expected, atol=0.01)
    timing = change[change["feature"] == "days_to_renewal"]
    assert len(timing) and timing["sentence"].str.contains("Days to renewal").all()
