"""The public training API: what ``vitals train / evaluate / promote`` and notebooks call.

Example:
    >>> from vitals.training.train import train
    >>> result = train("data/", trials=0, register=True)  # doctest: +SKIP
    >>> result.report["models"]["vitals"]["overall"]["auc"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from vitals.config.settings import Settings, get_settings
from vitals.features.build import Snapshots, write_snapshots
from vitals.models.health_model import HealthModel
from vitals.models.mlflow_adapter import log_health_model
from vitals.training import registry, tracking
from vitals.training.data import build_training_snapshots, read_training_snapshots
from vitals.training.errors import TrainingError
from vitals.training.pipeline import TrainingOutcome, figures, fit_and_evaluate
from vitals.training.registry import Promotion

logger = logging.getLogger(__name__)

MODEL_ARTIFACT = "health_model"
_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class TrainingResult:
    """What a training run left behind.

    Attributes:
        run_id: the MLflow run.
        model_uri: URI of the logged HealthModel (loads with ``load_health_model``).
        version: the registered version (``None`` without ``register``).
        report: the evaluation report (schema in :mod:`vitals.training.evaluate`).
        model: the fitted HealthModel.
        outcome: splits, boosters and test predictions, for a closer look in a notebook.
    """

    run_id: str
    model_uri: str
    version: str | None
    report: dict[str, object]
    model: HealthModel
    outcome: TrainingOutcome


def train(
    data_dir: str | Path | None = None,
    *,
    features: str | Path | Snapshots | None = None,
    horizon_days: int | None = None,
    trials: int | None = None,
    timeout_s: float | None = None,
    experiment: str | None = None,
    seed: int | None = None,
    register: bool = False,
    settings: Settings | None = None,
) -> TrainingResult:
    """Train, evaluate and log a HealthModel; optionally register it as ``challenger``.

    Args:
        data_dir: the data directory to build snapshots from.
        features: feature snapshots: a :class:`Snapshots` object, or a snapshot file (read when
            it exists; otherwise built from ``data_dir`` and written there).
        horizon_days: churn horizon (default: the settings').
        trials: Optuna trials per booster; 0 uses the LightGBM defaults of the settings.
        timeout_s: tuning time budget for the whole run.
        experiment: MLflow experiment (default: ``settings.training.experiment``).
        seed: seed of every random choice (default: the settings').
        register: register the model as a new version with alias ``challenger``, after
            everything else succeeded.
        settings: settings to use (default: :func:`vitals.config.settings.get_settings`).

    Returns:
        The :class:`TrainingResult`.

    Raises:
        TrainingError: data or options that cannot train a model.
        TrackingError: an unreachable tracking server or a registry failure.
    """
    settings = settings or get_settings()
    config = settings.training
    horizon = horizon_days or settings.horizon_days
    trials = config.trials if trials is None else trials
    timeout_s = config.timeout_s if timeout_s is None else timeout_s
    seed = settings.seed if seed is None else seed
    if trials < 0:
        raise TrainingError(f"--trials {trials}: give 0 (defaults) or more")
    tracking.connect(create=True)
    snapshots, history_start, source = training_snapshots(data_dir, features, horizon, settings)
    experiment = experiment or config.experiment
    with tracking.training_run(experiment) as run_id:
        outcome = fit_and_evaluate(
            snapshots,
            settings,
            trials=trials,
            timeout_s=timeout_s,
            seed=seed,
            history_start=history_start,
            metadata={"mlflow_run_id": run_id},
            on_trial=tracking.TrialLogger(run_id) if trials else None,
        )
        _log_run(outcome, snapshots, settings, trials, timeout_s, seed, source, history_start)
        info = log_health_model(
            outcome.model, MODEL_ARTIFACT, input_example=_example(outcome.split.test, outcome.model)
        )
    version = None
    if register:
        version = registry.register(info.model_uri, config.registered_model, run_id)
    return TrainingResult(run_id, info.model_uri, version, outcome.report, outcome.model, outcome)


def evaluate(
    run_id: str | None = None,
    alias: str | None = None,
    *,
    experiment: str | None = None,
    settings: Settings | None = None,
) -> dict[str, object]:
    """The stored evaluation report of a run, of a registered alias, or of the latest run.

    Args:
        run_id: a training run.
        alias: a registered alias of the model (used when ``run_id`` is None).
        experiment: where to find the latest training run when neither is given (default: the
            settings' experiment).
        settings: settings to use (default: :func:`vitals.config.settings.get_settings`).

    Raises:
        TrackingError: no such run, alias or report.
    """
    config = (settings or get_settings()).training
    return registry.load_report(
        run_id=run_id,
        alias=alias,
        name=config.registered_model,
        experiment=experiment or config.experiment,
    )


def promote(
    version: str | None = None, *, force: bool = False, settings: Settings | None = None
) -> Promotion:
    """Move ``champion`` to a version (default: the ``challenger``) not worse than the champion.

    Args:
        version: the candidate version (default: the one aliased ``challenger``).
        force: promote even when the candidate is worse on the test window.
        settings: settings to use (default: :func:`vitals.config.settings.get_settings`).

    Raises:
        TrackingError: no such version, alias or report.
        PromotionRefused: the candidate is worse on the test window and ``force`` is off.
    """
    name = (settings or get_settings()).training.registered_model
    return registry.promote(name, version, force=force)


def training_snapshots(
    data_dir: str | Path | None,
    features: str | Path | Snapshots | None,
    horizon: int,
    settings: Settings,
) -> tuple[Snapshots, date | None, str]:
    """The snapshots ``vitals train`` fits on: given, read from a file, or built from the data.

    Args:
        data_dir: the data directory (when the snapshots are built).
        features: snapshots, or a snapshot file to read (or to write after building).
        horizon: label horizon.
        settings: snapshot step, warm-up, grace gap and vocabulary.

    Returns:
        The snapshots, the first event's date when built (else ``None``), and their source.

    Raises:
        TrainingError: snapshots of another horizon, or no data to build them from.
    """
    if isinstance(features, Snapshots):
        if features.horizon_days != horizon:
            raise TrainingError(
                f"the snapshots have labels for a {features.horizon_days}-day horizon, not "
                f"{horizon}: pass horizon_days={features.horizon_days} or rebuild them"
            )
        return features, None, "snapshots object"
    if features is not None and Path(features).is_file():
        return read_training_snapshots(features, horizon), None, str(features)
    if data_dir is None:
        raise TrainingError("give a data directory, or a snapshot file that exists (--features)")
    if not Path(data_dir).is_dir():
        raise TrainingError(f"{data_dir}: no such data directory")
    config = settings.training
    snapshots, first_event = build_training_snapshots(
        data_dir,
        horizon_days=horizon,
        grace_days=settings.grace_days,
        every=config.snapshot_every,
        warmup_days=config.warmup_days,
        vocabulary=settings.features,
    )
    if features is not None:
        write_snapshots(snapshots, features)
        logger.info("wrote the snapshots to %s", features)
    return snapshots, first_event, str(data_dir)


def _log_run(
    outcome: TrainingOutcome,
    snapshots: Snapshots,
    settings: Settings,
    trials: int,
    timeout_s: float | None,
    seed: int,
    source: str,
    history_start: date | None,
) -> None:
    config = settings.training
    split = outcome.split
    params: dict[str, object] = {
        "horizon_days": snapshots.horizon_days,
        "grace_days": snapshots.grace_days,
        "seed": seed,
        "trials": trials,
        "timeout_s": timeout_s,
        "source": source,
        "snapshot_step_days": _median_step_days(snapshots),
        "test_days": config.test_days,
        "calibration_days": config.calibration_days,
        "gap_days": split.gap_days,
        "warmup_days": config.warmup_days,
        "profile_init": config.profile_init,
        "features": len(snapshots.feature_names),
        **{
            f"window.{k}.{e}": getattr(w, e)
            for k, w in split.windows.items()
            for e in ("start", "end")
        },
        **{f"lightgbm.{k}": v for k, v in config.lightgbm.items()},
    }
    for name, facts in outcome.report["profiles"].items():  # type: ignore[union-attr]
        params[f"profile.{name}.pooled"] = facts["pooled"]
        params[f"profile.{name}.calibration"] = facts["calibration"]["method"]
        for key, value in facts.get("tuning", {}).get("best_params", {}).items():
            params[f"tuned.{name}.{key}"] = value
    pooled_tuning = outcome.boosters.summaries["pooled"].get("tuning", {})
    for key, value in pooled_tuning.get("best_params", {}).items():
        params[f"tuned.pooled.{key}"] = value
    tracking.log_params(params)
    tracking.log_report_metrics(outcome.report)
    window = {
        "data_end": snapshots.data_end.isoformat(),
        "source": source,
        "history_start": None if history_start is None else history_start.isoformat(),
        **split.to_dict(),
    }
    documents = {
        tracking.REPORT_ARTIFACT: outcome.report,
        "catalog.json": [spec.to_dict() for spec in snapshots.catalog],
        "data_window.json": window,
    }
    tracking.log_artifacts(documents, figures(outcome, seed=seed))


def _example(test: pd.DataFrame, model: HealthModel) -> pd.DataFrame:
    columns = ["account_id", "as_of", *model.feature_names_]
    known = test[test["segment"].notna()]
    return (known if len(known) else test)[columns].head(_EXAMPLE_ROWS)


def _median_step_days(snapshots: Snapshots) -> float | None:
    dates = np.unique(snapshots.table.column("as_of").to_numpy())
    return (
        float(np.median(np.diff(dates).astype("timedelta64[D]").astype(int)))
        if len(dates) > 1
        else None
    )
