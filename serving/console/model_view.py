"""The model page's content: what is served, its evaluation report and plots, and its drift.

The evaluation report (``report.json``) and the plots (``plots/*.png``) are artifacts of the
model's MLflow training run, read from the configured MLflow store once per run and kept.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from vitals.config.mlflow_store import StoreError, read_run_artifacts
from vitals.serving.api.holder import REPORT_ARTIFACT, ServingModel

logger = logging.getLogger(__name__)

PLOTS = {
    "roc.png": "ROC curve on the out-of-time test window",
    "reliability.png": "Reliability: predicted against observed churn",
    "lift.png": "Lift by score decile",
    "score_bands.png": "Churn by health band",
    "survival.png": "Mean survival curve",
}
METRICS = ("auc", "pr_auc", "brier", "ece", "lift_top10", "recall_top10")


@dataclass(frozen=True)
class RunArtifacts:
    """A training run's report and plots (empty, with the reason, when they cannot be read)."""

    run_id: str | None
    report: dict[str, Any] = field(default_factory=dict)
    plots: dict[str, bytes] = field(default_factory=dict)
    missing: str | None = None

    def model_rows(self) -> list[tuple[str, dict[str, Any]]]:
        """``(model, overall metrics)`` per model of the report, Vitals first."""
        models = self.report.get("models", {})
        return [(name, facts.get("overall") or {}) for name, facts in models.items()]


class RunArtifactCache:
    """Reads each training run's artifacts once (a run's artifacts never change)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, RunArtifacts] = {}

    def of(self, served: ServingModel) -> RunArtifacts:
        """The artifacts of the served model's training run."""
        run_id = served.model.metadata_.get("mlflow_run_id")
        if not run_id:
            return RunArtifacts(None, missing="this model records no MLflow training run")
        with self._lock:
            if str(run_id) not in self._runs:
                self._runs[str(run_id)] = _download(str(run_id))
            return self._runs[str(run_id)]


def _download(run_id: str) -> RunArtifacts:
    plots = [f"plots/{name}" for name in PLOTS]
    try:
        found = read_run_artifacts(run_id, [REPORT_ARTIFACT, *plots])
        report = json.loads(found[REPORT_ARTIFACT])
    except (StoreError, KeyError, ValueError) as exc:
        logger.warning("no evaluation report of run %s: %s", run_id, exc)
        return RunArtifacts(run_id, missing=f"the report of run {run_id} cannot be read ({exc})")
    by_name = {path.removeprefix("plots/"): data for path, data in found.items() if path in plots}
    return RunArtifacts(run_id, report, by_name)
