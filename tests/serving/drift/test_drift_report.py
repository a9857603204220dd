"""Feature drift over the store, and the report's warnings (``vitals.serving.drift.report``)."""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from driftkit import VERSION, shifted, widest_numeric

from vitals.config.drift import DriftSettings
from vitals.models.health_model import HealthModel
from vitals.serving.drift import assess_drift, drift_report, feature_drift
from vitals.serving.drift.calibration import unavailable
from vitals.serving.drift.report import psi_status
from vitals.serving.store import HealthStore
from vitals.serving.store.features_table import write_latest_features

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def test_an_unchanged_store_has_no_drift(
    store: HealthStore, drift_model: HealthModel, frames: dict[date, pd.DataFrame]
) -> None:
    newest = max(frames)
    found = feature_drift(store, drift_model)
    assert found.available and found.reason is None
    assert found.as_of == newest and found.rows == found.reference_rows == len(frames[newest])
    assert found.not_stored == []
    assert {s.name for s in found.shifts} == set(drift_model.feature_names_)
    assert all(s.psi == 0.0 for s in found.shifts)
    report = drift_report(
        VERSION, found, unavailable("not computed"), DriftSettings(), computed_at=NOW
    )
    assert (report.status, report.warnings) == ("ok", [])


def test_a_shifted_feature_alerts_alone_and_is_logged(
    store: HealthStore,
    drift_model: HealthModel,
    frames: dict[date, pd.DataFrame],
    caplog: pytest.LogCaptureFixture,
) -> None:
    feature, newest = widest_numeric(drift_model), max(frames)
    write_latest_features(store, shifted(frames[newest], feature), newest, VERSION)
    with caplog.at_level(logging.WARNING, logger="vitals.serving.drift"):
        report = assess_drift(store, drift_model, VERSION, DriftSettings())
    first, *rest = report.features.shifts
    assert first.name == feature and first.psi > DriftSettings().psi_alert
    assert first.actual[-2] == pytest.approx(1.0)  # every row above the last training cut
    assert all(s.psi == 0.0 for s in rest)
    assert report.status == "alert"
    assert len(report.warnings) == 1 and f"feature {feature} has shifted" in report.warnings[0]
    assert report.warnings[0] in caplog.text
    data = report.to_dict(bins=False)
    json.dumps(data, allow_nan=False)
    assert data["features"]["features"][0] == {
        "feature": feature,
        "kind": "numeric",
        "psi": first.psi,
        "status": "alert",
    }


def test_limits_split_ok_warning_and_alert() -> None:
    limits = DriftSettings(psi_warn=0.1, psi_alert=0.25)
    assert [psi_status(v, limits) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "ok",
        "ok",
        "warning",
        "warning",
        "alert",
        "alert",
    ]
    assert psi_status(math.nan, limits) == "ok"
    with pytest.raises(ValueError, match="psi_warn <= psi_alert"):
        DriftSettings(psi_warn=0.3, psi_alert=0.2)


def test_a_model_saved_before_drift_references_says_unavailable(
    store: HealthStore, health_model: HealthModel
) -> None:
    report = assess_drift(store, health_model, "test-1", DriftSettings())
    assert not report.features.available
    assert "trained before models kept" in report.features.reason
    assert "retrain it" in report.features.reason
    assert not report.calibration.available
    assert "vitals evaluate --drift --data" in report.calibration.reason
    assert (report.status, report.warnings) == ("unavailable", [])


def test_an_empty_store_says_to_score_first(drift_model: HealthModel, tmp_path: Path) -> None:
    empty = HealthStore.open(f"sqlite:///{tmp_path}/empty.db")
    try:
        found = feature_drift(empty, drift_model)
    finally:
        empty.close()
    assert not found.available and "run `vitals score`" in found.reason


def test_a_feature_the_stored_vectors_lack_is_named_not_compared(
    store: HealthStore, drift_model: HealthModel, frames: dict[date, pd.DataFrame]
) -> None:
    feature, newest = widest_numeric(drift_model), max(frames)
    write_latest_features(store, frames[newest].drop(columns=[feature]), newest, VERSION)
    found = feature_drift(store, drift_model)
    assert found.not_stored == [feature]
    assert feature not in {s.name for s in found.shifts}
