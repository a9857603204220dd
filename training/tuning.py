"""Optuna search for one booster's LightGBM parameters on the time-split validation window.

The search space is the plain function :func:`suggest_params`. A study is seeded TPE (one seed,
one sequence of trials), trials run one at a time, the untuned defaults are enqueued as the first
trial (so tuning never returns something worse on validation than no tuning), and Optuna's
LightGBM pruning callback stops trials whose validation AUC trails the median of earlier trials
at the same boosting round. Each trial keeps early stopping on the validation window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import lightgbm as lgb
import optuna
from optuna_integration import LightGBMPruningCallback

from vitals.training.fit import METRIC, VALID_NAME, BoosterFit, Sample, fit_booster

logger = logging.getLogger(__name__)

TrialCallback = Callable[[str, optuna.trial.FrozenTrial], None]


def suggest_params(trial: optuna.Trial) -> dict[str, object]:
    """The search space: LightGBM parameters drawn for one trial.

    ``scale_pos_weight`` spans plain (1) to strongly reweighted churners (20); calibration on the
    later window maps whatever margin scale results back to probabilities.
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 96, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 2000, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.3, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 100.0, log=True),
        "cat_smooth": trial.suggest_float("cat_smooth", 1.0, 100.0, log=True),
        "min_data_per_group": trial.suggest_int("min_data_per_group", 50, 1000, log=True),
        "scale_pos_weight": trial.suggest_float("scale_pos_weight", 1.0, 20.0, log=True),
    }


@dataclass(frozen=True)
class TuningResult:
    """The best booster of a study and the study's counts."""

    fit: BoosterFit
    best_params: dict[str, object]
    trials: int
    pruned: int


def tune_booster(
    name: str,
    params: Mapping[str, object],
    train: Sample,
    valid: Sample,
    *,
    n_trials: int,
    timeout: float | None,
    seed: int,
    num_boost_round: int,
    early_stopping_rounds: int,
    init_model: lgb.Booster | None = None,
    on_trial: TrialCallback | None = None,
) -> TuningResult:
    """Search LightGBM parameters for one booster, maximising the validation AUC.

    Args:
        name: booster name (profile or ``pooled``), used as the study name.
        params: base parameters (:func:`vitals.training.fit.base_params`); the trial's draws
            override.
        train: training rows.
        valid: validation rows.
        n_trials: number of trials (at least 1).
        timeout: stop starting new trials after this many seconds (``None``: no limit).
        seed: seed of the TPE sampler.
        num_boost_round: most boosting rounds per trial.
        early_stopping_rounds: early-stopping patience per trial.
        init_model: continue every trial from this booster.
        on_trial: called with ``(name, trial)`` after each finished or pruned trial.

    Returns:
        The :class:`TuningResult` holding the best trial's fitted booster.
    """
    best: list[BoosterFit] = []

    def objective(trial: optuna.Trial) -> float:
        drawn = {**params, **suggest_params(trial)}
        pruning = LightGBMPruningCallback(trial, METRIC, valid_name=VALID_NAME)
        fit = fit_booster(
            drawn,
            train,
            valid,
            num_boost_round=num_boost_round,
            early_stopping_rounds=early_stopping_rounds,
            init_model=init_model,
            callbacks=[pruning],
        )
        trial.set_user_attr("best_iteration", fit.best_iteration)
        if not best or fit.best_score > best[0].best_score:
            best[:] = [fit]
        return fit.best_score

    callbacks = [] if on_trial is None else [lambda _study, trial: on_trial(name, trial)]
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our logger reports the study instead
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=20),
            study_name=name,
        )
        study.enqueue_trial(dict(params))  # keys outside the search space are ignored
        study.optimize(objective, n_trials=n_trials, timeout=timeout, callbacks=callbacks)
    finally:
        optuna.logging.set_verbosity(verbosity)
    states = [t.state for t in study.trials]
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    logger.info(
        "%s: %d trials (%d pruned), best validation AUC %.4f",
        name,
        len(states),
        pruned,
        best[0].best_score,
    )
    return TuningResult(best[0], dict(study.best_params), len(states), pruned)
