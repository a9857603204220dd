"""The drift report: feature drift (PSI) and calibration drift, judged against the settings.

Feature drift needs only the store and the model: the model keeps its training window's
distributions (:mod:`vitals.models.drift`), the store the vectors of the latest scored date
(:mod:`vitals.serving.drift.window`). Calibration drift needs the outcomes in the data
(:mod:`vitals.serving.drift.calibration`); a report computed with the data is kept in the store
(:mod:`vitals.serving.drift.records`) for those that have no data, such as the API.

A feature warns from ``psi_warn`` and alerts from ``psi_alert``; a profile warns when its mean
predicted churn is more than ``calibration_gap`` away from the observed churn over at least
``min_calibration_rows`` matured scores. Every warning is logged and listed in the report.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from vitals.config.drift import DriftSettings
from vitals.models.drift import CalibrationGap, FeatureShift, feature_shifts, reference_of
from vitals.models.health_model import HealthModel
from vitals.serving.drift.calibration import CalibrationDrift
from vitals.serving.drift.window import latest_window
from vitals.serving.store import HealthStore

logger = logging.getLogger(__name__)

Status = Literal["ok", "warning", "alert"]
ReportStatus = Literal["ok", "warning", "alert", "unavailable"]
_SEVERITY = {"ok": 0, "warning": 1, "alert": 2}


@dataclass(frozen=True)
class FeatureDrift:
    """PSI of every feature between the training window and the latest scored date.

    Attributes:
        available: whether it could be computed (else ``reason`` says why not).
        reason: why feature drift is unavailable.
        as_of: the latest scored date.
        rows: accounts whose stored vectors were compared.
        reference_rows: training-window rows of the reference.
        shifts: one per feature, largest PSI first.
        not_stored: reference features the stored vectors lack (not compared).
    """

    available: bool
    reason: str | None = None
    as_of: date | None = None
    rows: int = 0
    reference_rows: int | None = None
    shifts: list[FeatureShift] = field(default_factory=list)
    not_stored: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DriftReport:
    """Feature and calibration drift of one model version, with the warnings they raise.

    Attributes:
        model_version: the model.
        computed_at: when the report was assembled.
        features: feature drift.
        calibration: calibration drift.
        calibration_computed_at: when the calibration drift was computed (``None``: never).
        limits: the limits it was judged against.
        warnings: one sentence per limit passed.
        status: the worst of the findings (``unavailable`` when neither part could be computed).
    """

    model_version: str
    computed_at: datetime
    features: FeatureDrift
    calibration: CalibrationDrift
    calibration_computed_at: datetime | None
    limits: DriftSettings
    warnings: list[str]
    status: ReportStatus

    def to_dict(self, *, bins: bool = True) -> dict[str, Any]:
        """Plain JSON data (NaN as ``None``); ``bins`` adds each feature's shares per bin."""
        features = self.features
        return {
            "model_version": self.model_version,
            "computed_at": self.computed_at.isoformat(),
            "status": self.status,
            "warnings": list(self.warnings),
            "limits": self.limits.model_dump(),
            "features": {
                "available": features.available,
                "reason": features.reason,
                "as_of": None if features.as_of is None else features.as_of.isoformat(),
                "rows": features.rows,
                "reference_rows": features.reference_rows,
                "not_stored": list(features.not_stored),
                "features": [_shift_dict(s, self.limits, bins) for s in features.shifts],
            },
            "calibration": self._calibration_dict(),
        }

    def _calibration_dict(self) -> dict[str, Any]:
        found = self.calibration.to_dict()
        found["computed_at"] = _iso(self.calibration_computed_at)
        if self.calibration.overall is not None:
            found["overall"]["status"] = gap_status(self.calibration.overall, self.limits)
        for name, gap in self.calibration.profiles.items():
            found["profiles"][name]["status"] = gap_status(gap, self.limits)
        return found


def feature_drift(store: HealthStore, model: HealthModel) -> FeatureDrift:
    """PSI of each of the model's features between its training window and the latest scored
    date's stored vectors.

    Returns:
        The :class:`FeatureDrift`; unavailable, with the reason, for a model saved without a
        reference distribution or a store without scored vectors.

    Raises:
        StoreError: the store cannot be read.
    """
    try:
        reference = reference_of(model.metadata_)
    except (ValueError, KeyError, TypeError) as exc:
        return FeatureDrift(False, f"the model's drift reference cannot be read: {exc}")
    if reference is None:
        return FeatureDrift(
            False,
            "this model was trained before models kept their training window's feature "
            "distributions: retrain it (`vitals train`) to monitor feature drift",
        )
    window = latest_window(store)
    if window is None:
        return FeatureDrift(False, "the store holds no scores yet: run `vitals score`")
    if window.frame.empty:
        return FeatureDrift(
            False,
            f"no feature vectors are stored for the {window.scored:,} accounts scored on "
            f"{window.as_of}: run `vitals score` again",
            as_of=window.as_of,
        )
    shifts, absent = feature_shifts(reference, window.frame)
    return FeatureDrift(True, None, window.as_of, len(window.frame), reference.rows, shifts, absent)


def psi_status(psi: float, limits: DriftSettings) -> Status:
    """``alert`` from ``psi_alert``, ``warning`` from ``psi_warn``, else ``ok``."""
    if math.isnan(psi) or psi < limits.psi_warn:
        return "ok"
    return "alert" if psi >= limits.psi_alert else "warning"


def gap_status(gap: CalibrationGap, limits: DriftSettings) -> Status:
    """``warning`` when ``|predicted - observed|`` passes the limit on enough rows, else ``ok``."""
    enough = gap.count >= limits.min_calibration_rows
    return "warning" if enough and abs(gap.gap) > limits.calibration_gap else "ok"


def drift_report(
    version: str,
    features: FeatureDrift,
    calibration: CalibrationDrift,
    limits: DriftSettings,
    *,
    computed_at: datetime,
    calibration_computed_at: datetime | None = None,
    log: bool = True,
) -> DriftReport:
    """Judge feature and calibration drift against the limits; log a warning per limit passed.

    Args:
        version: the model version.
        features: from :func:`feature_drift`.
        calibration: from :func:`~vitals.serving.drift.calibration.calibration_drift`, or read
            back from the store.
        limits: the settings' drift limits.
        computed_at: when the report is assembled.
        calibration_computed_at: when ``calibration`` was computed.
        log: log each warning (off for a caller that logs only the new ones).

    Returns:
        The :class:`DriftReport`.
    """
    warnings, worst = [], "ok"
    # calibration first: a few lines that a long list of moved features must not bury
    gaps = {f"profile {name}": gap for name, gap in calibration.profiles.items()}
    if calibration.overall is not None:
        gaps = {"all profiles": calibration.overall, **gaps}
    for name, gap in gaps.items():
        if gap_status(gap, limits) != "ok":
            warnings.append(
                f"calibration of {name}: predicted churn {gap.predicted:.1%} against "
                f"{gap.observed:.1%} observed over {gap.count:,} matured scores (gap "
                f"{gap.gap:+.3f}, limit {limits.calibration_gap})"
            )
            worst = max(worst, "warning", key=_SEVERITY.__getitem__)
    for shift in features.shifts:
        status = psi_status(shift.psi, limits)
        if status != "ok":
            limit = limits.psi_alert if status == "alert" else limits.psi_warn
            warnings.append(
                f"feature {shift.name} has {'shifted' if status == 'alert' else 'moved'} since "
                f"training: PSI {shift.psi:.3f} >= {limit} on {features.as_of}"
            )
            worst = max(worst, status, key=_SEVERITY.__getitem__)
    if log:
        log_warnings(version, warnings)
    overall: ReportStatus = worst  # type: ignore[assignment]
    if not features.available and not calibration.available:
        overall = "unavailable"
    return DriftReport(
        version,
        computed_at,
        features,
        calibration,
        calibration_computed_at,
        limits,
        warnings,
        overall,
    )


def log_warnings(version: str, warnings: list[str]) -> None:
    """Log each drift warning of a model version."""
    for warning in warnings:
        logger.warning("drift of model %s: %s", version, warning)


def _shift_dict(shift: FeatureShift, limits: DriftSettings, bins: bool) -> dict[str, Any]:
    found: dict[str, Any] = {
        "feature": shift.name,
        "kind": shift.kind,
        "psi": None if math.isnan(shift.psi) else shift.psi,
        "status": psi_status(shift.psi, limits),
    }
    if bins:
        found["bins"] = [
            {"bin": label, "expected": e, "actual": a}
            for label, e, a in zip(shift.labels, shift.expected, shift.actual, strict=True)
        ]
    return found


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
