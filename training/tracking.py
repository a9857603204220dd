"""MLflow tracking for training runs: the store, the experiment, and what a run records.

Store: chosen and set for the process by :func:`vitals.config.mlflow_store.use_store`
(``MLFLOW_TRACKING_URI``, the settings, or the embedded ``sqlite:///<cwd>/mlruns/mlflow.db``,
created when training first needs it, never at import). A new experiment in a SQLite store keeps
its artifacts in the folder of the database file (``<cwd>/mlruns/<experiment id>/...`` for the
embedded store). A server is checked (``GET /health``) before any work starts, so an unreachable
one fails fast with a clear message.

A training run records: parameters (options, windows, LightGBM defaults, per-booster tuned
parameters, which profiles are pooled), metrics (``<model>.<metric>`` overall and
``<model>.<profile>.<metric>`` on the test window), artifacts (``report.json``,
``catalog.json``, ``data_window.json``, ``plots/*.png``) and the HealthModel (``health_model``).
Each Optuna trial is a child run of it (tag ``mlflow.parentRunId``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import mlflow
import optuna
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from vitals.config.mlflow_store import StoreError, use_store
from vitals.training.errors import TrackingError

REPORT_ARTIFACT = "report.json"
RUN_KIND_TAG = "vitals.kind"
_TRIAL_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


def connect(*, create: bool = False) -> str:
    """Point this process's MLflow at the configured store (see :mod:`vitals.config.mlflow_store`).

    Args:
        create: make an embedded store's folder (training); otherwise a missing store is an error.

    Returns:
        The tracking URI.

    Raises:
        TrackingError: no store to read, an unreachable server, or a folder that cannot be made.
    """
    try:
        return use_store(create=create)
    except StoreError as error:
        raise TrackingError(str(error)) from None


def experiment_id(name: str) -> str:
    """Id of the named experiment, created if missing (embedded store: artifacts in ./mlruns).

    Raises:
        TrackingError: the store rejects the request.
    """
    client = MlflowClient()
    try:
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(name, artifact_location=_artifact_location())
    except MlflowException as error:
        raise TrackingError(
            f"MLflow experiment {name!r} at {mlflow.get_tracking_uri()}: {error}"
        ) from None


@contextmanager
def training_run(experiment: str, run_name: str | None = None) -> Iterator[str]:
    """Start a run in the experiment and yield its id (it ends FAILED if the block raises)."""
    exp = experiment_id(experiment)
    with mlflow.start_run(
        experiment_id=exp, run_name=run_name, tags={RUN_KIND_TAG: "training"}
    ) as run:
        yield run.info.run_id


class TrialLogger:
    """Logs each Optuna trial as a child run of a training run.

    Args:
        parent_run_id: the training run.
    """

    def __init__(self, parent_run_id: str) -> None:
        self.parent_run_id = parent_run_id
        self._client = MlflowClient()
        self._experiment = self._client.get_run(parent_run_id).info.experiment_id

    def __call__(self, booster: str, trial: optuna.trial.FrozenTrial) -> None:
        """Record one finished or pruned trial of the booster's study."""
        tags = {
            "mlflow.parentRunId": self.parent_run_id,
            RUN_KIND_TAG: "trial",
            "booster": booster,
            "state": trial.state.name,
        }
        run = self._client.create_run(
            self._experiment, run_name=f"{booster}-trial-{trial.number}", tags=tags
        )
        metrics = []
        if trial.value is not None:
            metrics.append(Metric("validation_auc", float(trial.value), 0, 0))
        if "best_iteration" in trial.user_attrs:
            metrics.append(Metric("trees", float(trial.user_attrs["best_iteration"]), 0, 0))
        params = [Param(k, str(v)) for k, v in trial.params.items()]
        self._client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=params,
            tags=[RunTag("trial", str(trial.number))],
        )
        self._client.set_terminated(
            run.info.run_id, _TRIAL_STATUS.get(trial.state.name, "FINISHED")
        )


def log_params(params: Mapping[str, object]) -> None:
    """Log parameters of the active run (values as strings)."""
    mlflow.log_params({k: str(v) for k, v in params.items()})


def log_report_metrics(report: Mapping[str, object]) -> None:
    """Log each defined report metric as ``<model>.<metric>`` and ``<model>.<profile>.<metric>``."""
    values: dict[str, float] = {}
    for model, result in report["models"].items():  # type: ignore[union-attr]
        for key, value in result["overall"].items():
            if value is not None:
                values[f"{model}.{key}"] = float(value)
        for profile, metrics in result["profiles"].items():
            for key, value in metrics.items():
                if value is not None:
                    values[f"{model}.{profile}.{key}"] = float(value)
    values.update(_survival_metrics(report.get("survival")))
    mlflow.log_metrics(values)


def _survival_metrics(survival: object) -> dict[str, float]:
    """``survival.<horizon>.<metric>``, the integrated Brier scores and D-calibration's p."""
    if not isinstance(survival, Mapping) or not survival.get("available"):
        return {}
    values = {}
    for horizon, facts in survival["horizons"].items():
        for key in ("auc", "ece", "time_dependent_auc"):
            if facts.get(key) is not None:
                values[f"survival.{horizon}.{key}"] = float(facts[key])
    for key, value in survival["integrated_brier"].items():
        if key != "days" and value is not None:
            values[f"survival.integrated_brier.{key}"] = float(value)
    values["survival.d_calibration_p"] = float(survival["d_calibration"]["p_value"])
    return values


def log_artifacts(documents: Mapping[str, object], figures: Mapping[str, Figure]) -> None:
    """Log JSON documents (by artifact path) and figures (as PNG, by artifact path)."""
    for path, document in documents.items():
        mlflow.log_dict(document, path)
    for path, figure in figures.items():
        mlflow.log_figure(figure, path)


def _artifact_location() -> str | None:
    """The folder holding a SQLite store's database file; the server decides otherwise."""
    uri = mlflow.get_tracking_uri()
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///")).parent.resolve().as_uri()
