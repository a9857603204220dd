"""Calibration drift: stored churn probabilities against the churn the data shows afterwards."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from driftkit import VERSION

from vitals.config.drift import DriftSettings
from vitals.features.build import Snapshots
from vitals.features.loader import load_dataset
from vitals.models.health_model import HealthModel
from vitals.serving.drift import assess_drift, calibration_drift, latest_calibration, save_report
from vitals.serving.store import HealthStore

LABEL = "churned_within_horizon"


def matured(frames: dict[date, pd.DataFrame], scored: dict[date, pd.DataFrame]) -> pd.DataFrame:
    """The oracle: scores of the labelled dates, joined by hand with their snapshot labels."""
    labelled = [d for d, f in frames.items() if f[LABEL].notna().any()]
    return pd.concat(
        scored[d].merge(frames[d][["account_id", LABEL]], on="account_id") for d in labelled
    )


def test_matured_scores_are_compared_with_the_observed_churn_per_profile(
    store: HealthStore,
    drift_model: HealthModel,
    sample_snapshots: Snapshots,
    frames: dict[date, pd.DataFrame],
    scored: dict[date, pd.DataFrame],
) -> None:
    found = calibration_drift(store, sample_snapshots, drift_model, VERSION)
    rows = matured(frames, scored)
    assert found.available and found.horizon_days == 90
    assert found.dates == sorted(pd.unique(rows["as_of"])) and len(found.dates) == 2
    assert found.unmatched == 0
    assert found.overall is not None and found.overall.count == len(rows)
    assert found.overall.predicted == pytest.approx(rows["churn_probability"].mean())
    assert found.overall.observed == pytest.approx(rows[LABEL].mean())
    by_profile = rows.groupby("profile")
    assert set(found.profiles) == set(by_profile.groups)
    for name, part in by_profile:
        gap = found.profiles[str(name)]
        assert gap.count == len(part)
        assert gap.predicted == pytest.approx(part["churn_probability"].mean())
        assert gap.observed == pytest.approx(part[LABEL].mean())
        assert 0.0 <= gap.ece <= 1.0


def test_outcomes_from_the_data_directory_equal_those_of_its_snapshots(
    store: HealthStore, drift_model: HealthModel, sample_snapshots: Snapshots, sample_dir: Path
) -> None:
    dataset = load_dataset(sample_dir)
    try:
        from_data = calibration_drift(store, dataset, drift_model, VERSION)
    finally:
        dataset.con.close()
    assert from_data == calibration_drift(store, sample_snapshots, drift_model, VERSION)


def test_nothing_is_compared_before_outcomes_are_known(
    store: HealthStore, drift_model: HealthModel, sample_snapshots: Snapshots
) -> None:
    early = replace(sample_snapshots, data_end=date(2026, 7, 1))
    found = calibration_drift(store, early, drift_model, VERSION)
    assert not found.available and "old enough" in found.reason and "2026-03-03" in found.reason
    other = calibration_drift(store, sample_snapshots, drift_model, "another-version")
    assert not other.available and "no scores of model another-version" in other.reason


def test_snapshots_of_another_horizon_are_refused(
    store: HealthStore, drift_model: HealthModel, sample_snapshots: Snapshots
) -> None:
    with pytest.raises(ValueError, match="60-day horizon"):
        calibration_drift(store, replace(sample_snapshots, horizon_days=60), drift_model, VERSION)


def test_a_stored_report_gives_the_calibration_back(
    store: HealthStore, drift_model: HealthModel, sample_snapshots: Snapshots
) -> None:
    computed = assess_drift(store, drift_model, VERSION, DriftSettings(), source=sample_snapshots)
    save_report(store, computed)
    stored = latest_calibration(store, VERSION)
    assert stored is not None and stored[0] == computed.calibration
    assert latest_calibration(store, "another-version") is None
    again = assess_drift(store, drift_model, VERSION, DriftSettings())
    assert again.calibration == computed.calibration
    assert again.calibration_computed_at == computed.calibration_computed_at


def test_a_gap_past_the_limit_warns_per_profile(
    store: HealthStore, drift_model: HealthModel, sample_snapshots: Snapshots
) -> None:
    strict = DriftSettings(calibration_gap=1e-9, min_calibration_rows=1)
    report = assess_drift(store, drift_model, VERSION, strict, source=sample_snapshots)
    named = {w.split(":")[0] for w in report.warnings}
    profiles = {f"calibration of profile {name}" for name in report.calibration.profiles}
    assert named == {"calibration of all profiles", *profiles}
    assert report.status == "warning"
    lenient = DriftSettings(calibration_gap=1e-9, min_calibration_rows=10**6)
    assert assess_drift(store, drift_model, VERSION, lenient).warnings == []
