"""One call for a drift report: feature drift now, calibration drift fresh or as last stored."""

from __future__ import annotations

from datetime import UTC, datetime

from vitals.config.drift import DriftSettings
from vitals.features.build import Snapshots
from vitals.features.loader import Dataset
from vitals.models.health_model import HealthModel
from vitals.serving.drift.calibration import calibration_drift, unavailable
from vitals.serving.drift.records import latest_calibration
from vitals.serving.drift.report import DriftReport, FeatureDrift, drift_report, feature_drift
from vitals.serving.store import HealthStore

NO_CALIBRATION = (
    "no calibration drift has been computed for model {version} yet: run "
    "`vitals evaluate --drift --data DATA_DIR` (outcomes come from the data)"
)


def assess_drift(
    store: HealthStore,
    model: HealthModel,
    version: str,
    limits: DriftSettings,
    *,
    source: Dataset | Snapshots | None = None,
    features: FeatureDrift | None = None,
    log: bool = True,
) -> DriftReport:
    """The drift report of a model version over the store.

    Args:
        store: the health store.
        model: the model (its training window's reference distributions).
        version: its version, as recorded with the stored scores.
        limits: the settings' drift limits (and the calibration window).
        source: outcomes for calibration drift: a loaded data directory or labelled snapshots;
            without it, the calibration drift of the newest report stored for ``version``.
        features: feature drift computed already (the API caches it); computed when ``None``.
        log: log each warning.

    Returns:
        The :class:`DriftReport` (not stored: see :func:`vitals.serving.drift.records.save_report`).

    Raises:
        ValueError: snapshots of another horizon or grace gap than the model's.
        StoreError: the store cannot be read.
    """
    now = datetime.now(UTC)
    if source is not None:
        window = limits.calibration_window_days
        calibration = calibration_drift(store, source, model, version, window_days=window)
        computed_at: datetime | None = now
    elif (stored := latest_calibration(store, version)) is not None:
        calibration, computed_at = stored
    else:
        calibration, computed_at = unavailable(NO_CALIBRATION.format(version=version)), None
    if features is None:
        features = feature_drift(store, model)
    return drift_report(
        version,
        features,
        calibration,
        limits,
        computed_at=now,
        calibration_computed_at=computed_at,
        log=log,
    )
