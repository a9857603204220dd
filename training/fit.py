"""Fitting one LightGBM booster with early stopping on the validation (calibration) window.

Class imbalance: churners are a few percent of snapshots. Boosters are trained on the plain
binary log-loss with ``scale_pos_weight`` 1 by default: reweighting moves the margins but barely
changes the ranking, and every booster is recalibrated on a later window anyway, so the
probabilities stay honest either way. Tuning searches ``scale_pos_weight`` (see
:mod:`vitals.training.tuning`), and early stopping and tuning watch the validation AUC, which
weighting does not distort (the log-loss of a reweighted booster would).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd

VALID_NAME = "valid"
METRIC = "auc"


@dataclass(frozen=True)
class Sample:
    """Booster input rows: the design matrix and 0/1 labels."""

    X: pd.DataFrame
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    @property
    def churners(self) -> int:
        """Rows with label 1."""
        return int(self.y.sum())

    def subset(self, mask: np.ndarray) -> Sample:
        """The rows where ``mask`` holds."""
        return Sample(self.X.loc[mask], self.y[mask])


@dataclass(frozen=True)
class BoosterFit:
    """A fitted booster (trimmed to its best iteration) and how it was fitted.

    Attributes:
        booster: trees up to the best validation iteration (including any initial model's).
        best_iteration: number of trees kept.
        best_score: validation AUC at that iteration.
        params: the LightGBM parameters used.
    """

    booster: lgb.Booster
    best_iteration: int
    best_score: float
    params: dict[str, object]


def base_params(
    lightgbm: Mapping[str, object], *, seed: int, num_threads: int
) -> dict[str, object]:
    """Fixed LightGBM parameters (binary, deterministic, seeded) with the given overrides.

    ``deterministic`` with a fixed thread count and ``force_row_wise`` make a seed give the same
    trees on every run.
    """
    return {
        "objective": "binary",
        "metric": METRIC,
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        "feature_pre_filter": False,
        **lightgbm,
    }


def fit_booster(
    params: Mapping[str, object],
    train: Sample,
    valid: Sample,
    *,
    num_boost_round: int,
    early_stopping_rounds: int,
    init_model: lgb.Booster | None = None,
    callbacks: Sequence[object] = (),
) -> BoosterFit:
    """Train a binary booster, stopping when the validation AUC stops improving.

    Args:
        params: LightGBM parameters (see :func:`base_params`).
        train: training rows.
        valid: validation rows (the calibration window's).
        num_boost_round: most boosting rounds.
        early_stopping_rounds: stop after this many rounds without improvement.
        init_model: continue boosting from this booster (its trees are kept in the result).
        callbacks: extra LightGBM callbacks (e.g. Optuna's pruning callback).

    Returns:
        The :class:`BoosterFit`.
    """
    dataset_params = {"feature_pre_filter": False, "verbosity": -1}
    dtrain = lgb.Dataset(train.X, train.y, params=dataset_params)
    dvalid = lgb.Dataset(valid.X, valid.y, reference=dtrain, params=dataset_params)
    stop = lgb.early_stopping(early_stopping_rounds, first_metric_only=True, verbose=False)
    booster = lgb.train(
        dict(params),
        dtrain,
        num_boost_round,
        valid_sets=[dvalid],
        valid_names=[VALID_NAME],
        init_model=init_model,
        callbacks=[stop, *callbacks],
    )
    best = booster.best_iteration or booster.current_iteration()
    score = booster.best_score.get(VALID_NAME, {}).get(METRIC, float("nan"))
    trimmed = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    return BoosterFit(trimmed, int(best), float(score), dict(params))


def margins(booster: lgb.Booster, X: pd.DataFrame) -> np.ndarray:
    """Raw margins (log-odds) of rows; an empty frame gives an empty array."""
    if X.empty:
        return np.empty(0)
    return np.asarray(booster.predict(X, raw_score=True), dtype=np.float64)
