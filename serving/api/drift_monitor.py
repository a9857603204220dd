"""The API's drift monitor: feature drift cached per scored date, and the drift gauges.

Computing feature drift reads the stored vectors of every account scored at the newest date, so
the monitor keeps the result for ``cache_seconds`` per (model version, newest scored date); a new
scoring date or another model computes it again at once. Each report served sets the Prometheus
gauges ``vitals_feature_psi{feature}`` and ``vitals_calibration_gap{profile}`` (mean predicted
minus observed churn; ``all`` for every profile together) on the app's registry, so ``/metrics``
shows the last report served. A warning is logged when it first appears, not on every request.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import date

from prometheus_client import CollectorRegistry, Gauge

from vitals.config.drift import DriftSettings
from vitals.serving.api.holder import ServingModel
from vitals.serving.drift import DriftReport, FeatureDrift, assess_drift, feature_drift
from vitals.serving.drift.report import log_warnings
from vitals.serving.drift.window import latest_date
from vitals.serving.store import HealthStore

OVERALL = "all"


class DriftMonitor:
    """Drift reports of the served model, with a cache and gauges (one per app).

    Args:
        registry: the app's metrics registry (the gauges are added to it).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.psi = Gauge(
            "vitals_feature_psi",
            "Population stability index of a feature: training window vs latest scored date.",
            ("feature",),
            registry=registry,
        )
        self.calibration_gap = Gauge(
            "vitals_calibration_gap",
            "Mean predicted minus observed churn of matured scores, per health profile.",
            ("profile",),
            registry=registry,
        )
        self._lock = threading.Lock()
        self._cached: tuple[tuple[str, date | None], float, FeatureDrift] | None = None
        self._logged: set[str] = set()

    def report(
        self, store: HealthStore, served: ServingModel, limits: DriftSettings
    ) -> DriftReport:
        """The drift report of the served model (feature drift from the cache when fresh).

        Raises:
            StoreError: the store cannot be read.
        """
        features = self._features(store, served, limits.cache_seconds)
        report = assess_drift(
            store, served.model, served.version, limits, features=features, log=False
        )
        with self._lock:  # a report polled every minute logs a warning once, not every time
            fresh = [w for w in report.warnings if w not in self._logged]
            self._logged = set(report.warnings)
        log_warnings(report.model_version, fresh)
        self.record(report)
        return report

    def record(self, report: DriftReport) -> None:
        """Set the gauges to a report's values (features and profiles it lacks are dropped)."""
        self.psi.clear()
        for shift in report.features.shifts:
            if not math.isnan(shift.psi):
                self.psi.labels(shift.name).set(shift.psi)
        self.calibration_gap.clear()
        calibration = report.calibration
        if calibration.overall is not None:
            self.calibration_gap.labels(OVERALL).set(calibration.overall.gap)
        for name, gap in calibration.profiles.items():
            self.calibration_gap.labels(name).set(gap.gap)

    def _features(self, store: HealthStore, served: ServingModel, ttl: float) -> FeatureDrift:
        key = (served.version, latest_date(store))
        with self._lock:  # one computation at a time: concurrent requests wait and reuse it
            cached = self._cached
            if cached is not None and cached[0] == key and time.monotonic() - cached[1] < ttl:
                return cached[2]
            features = feature_drift(store, served.model)
            self._cached = (key, time.monotonic(), features)
            return features
