"""MLflow tracking for training runs: the store, the experiment, and what a run records.

Store: ``MLFLOW_TRACKING_URI`` when set (e.g. ``http://127.0.0.1:5000`` for a tracking server);
otherwise the embedded store ``sqlite:///<cwd>/mlruns/mlflow.db``, created when a command first
needs it, never at import. A new experiment in a SQLite store keeps its artifacts in the folder
of the database file (``<cwd>/mlruns/<experiment id>/...`` for the embedded store). A server is
checked (``GET /health``) before any work starts, so an unreachable one fails fast with a clear
message.

A training run records: parameters (options, windows, LightGBM defaults, per-booster tuned
parameters, which profiles are pooled), metrics (``<model>.<metric>`` overall and
``<model>.<profile>.<metric>`` on the test window), artifacts (``report.json``,
``catalog.json``, ``data_window.json``, ``plots/*.png``) and the HealthModel (``health_model``).
Each Optuna trial is a child run of it (tag ``mlflow.parentRunId``).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import mlflow
import optuna
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from training.errors import TrackingError

ENV = "MLFLOW_TRACKING_URI"
STORE_DIR = "mlruns"
REPORT_ARTIFACT = "report.json"
RUN_KIND_TAG = "vitals.kind"
_TRIAL_STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, or the embedded SQLite store under ``./mlruns``."""
    return os.environ.get(ENV) or f"sqlite:///{Path.cwd() / STORE_DIR / 'mlflow.db'}"


def connect() -> str:
    """Point MLflow at the tracking store, creating the folder of a SQLite store if needed.

    Returns:
        The tracking URI.

    Raises:
        TrackingError: a tracking server that does not answer.
    """
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    elif uri.startswith("sqlite:///"):
        folder = _sqlite_folder(uri)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrackingError(
                f"cannot create the MLflow store folder {folder}: {error}"
            ) from None
    mlflow.set_tracking_uri(uri)
    return uri


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
        raise TrackingError(f"MLflow experiment {name!r} at {tracking_uri()}: {error}") from None


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
    mlflow.log_metrics(values)


def log_artifacts(documents: Mapping[str, object], figures: Mapping[str, Figure]) -> None:
    """Log JSON documents (by artifact path) and figures (as PNG, by artifact path)."""
    for path, document in documents.items():
        mlflow.log_dict(document, path)
    for path, figure in figures.items():
        mlflow.log_figure(figure, path)


def _artifact_location() -> str | None:
    """The folder holding a SQLite store's database file; the server decides otherwise."""
    uri = tracking_uri()
    if not uri.startswith("sqlite:///"):
        return None
    return _sqlite_folder(uri).resolve().as_uri()


def _sqlite_folder(uri: str) -> Path:
    return Path(uri.removeprefix("sqlite:///")).parent


def _check_server(uri: str) -> None:
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except (urllib.error.URLError, OSError) as error:
        problem = str(getattr(error, "reason", error))
    raise TrackingError(
        f"cannot reach the MLflow tracking server at {uri} ({problem}): start it, fix {ENV}, "
        f"or unset {ENV} to use the embedded store under ./{STORE_DIR}"
    )
