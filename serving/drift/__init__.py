"""Drift monitoring: feature drift (PSI against the training window) and calibration drift
(predicted against observed churn once outcomes are known), judged against the settings."""

from __future__ import annotations

from vitals.serving.drift.calibration import CalibrationDrift, calibration_drift
from vitals.serving.drift.monitor import assess_drift
from vitals.serving.drift.records import latest_calibration, save_report
from vitals.serving.drift.report import DriftReport, FeatureDrift, drift_report, feature_drift

__all__ = [
    "CalibrationDrift",
    "DriftReport",
    "FeatureDrift",
    "assess_drift",
    "calibration_drift",
    "drift_report",
    "feature_drift",
    "latest_calibration",
    "save_report",
]
