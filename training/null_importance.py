"""Null importance: which features a booster values no more than a shuffled copy of themselves.

Each feature gets a *shadow*: the same column with its rows permuted, which keeps the feature's
distribution (and, for an attribute with many levels, its power to memorise) but breaks any link
to the label. One booster with the pooled booster's parameters and number of trees is fitted on
the features and their shadows together; a feature whose split gain is not above its shadow's
is listed. The list goes into the evaluation report, so a user sees which features (an industry
with hundreds of levels, a sparse event type) the model could do without.
"""

from __future__ import annotations

from collections.abc import Mapping

import lightgbm as lgb
import numpy as np
import pandas as pd

SHADOW = "shadow__"


def null_importance(
    X: pd.DataFrame, y: np.ndarray, params: Mapping[str, object], rounds: int, seed: int
) -> dict[str, object]:
    """Compare each feature's total split gain with that of its shuffled copy.

    Args:
        X: the training design matrix (categorical columns as pandas categories).
        y: 0/1 labels.
        params: LightGBM parameters (the pooled booster's).
        rounds: boosting rounds (the pooled booster's trees).
        seed: seed of the permutations.

    Returns:
        ``{"rounds", "features", "not_above_shadow": [names], "gain": {name: [gain, shadow gain]}}``
        with gains rounded to 6 significant digits, features the booster used listed first.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    shadows = X.iloc[order].reset_index(drop=True).add_prefix(SHADOW)
    both = pd.concat([X.reset_index(drop=True), shadows], axis=1)
    booster = lgb.train(
        {**params, "verbosity": -1}, lgb.Dataset(both, y), num_boost_round=max(rounds, 1)
    )
    gain = dict(zip(both.columns, booster.feature_importance("gain"), strict=True))
    pairs = {n: (float(gain[n]), float(gain[SHADOW + n])) for n in X.columns}
    weak = [n for n, (real, shadow) in pairs.items() if real <= shadow]
    ranked = sorted(pairs, key=lambda n: -pairs[n][0])
    return {
        "rounds": max(rounds, 1),
        "features": len(pairs),
        "not_above_shadow": weak,
        "gain": {n: [float(f"{pairs[n][0]:.6g}"), float(f"{pairs[n][1]:.6g}")] for n in ranked},
    }
