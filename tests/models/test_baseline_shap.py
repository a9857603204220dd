"""Baseline Shapley values of a score change, against a brute-force oracle and shap."""

import itertools
import math

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.models.treeshap import TreeShap

N_FEATURES = 5


def _booster(seed: int, leaves: int, rounds: int, categorical: bool) -> lgb.Booster:
    """A small booster on random data; feature 4 is categorical when asked."""
    rng = np.random.default_rng(seed)
    n = 800
    X = rng.normal(size=(n, N_FEATURES))
    X[rng.random(X.shape) < 0.1] = np.nan
    if categorical:
        X[:, 4] = rng.integers(0, 12, n)
    signal = np.nan_to_num(X[:, 0] * X[:, 1] - X[:, 2]) + (X[:, 4] % 3 == 0)
    y = (rng.random(n) < 1 / (1 + np.exp(-signal))).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "min_data_in_leaf": 5,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "verbose": -1,
        "num_threads": 1,
        "seed": seed,
    }
    data = lgb.Dataset(X, y, categorical_feature=[4] if categorical else "auto")
    return lgb.train(params, data, num_boost_round=rounds)


def _pairs(seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Later and earlier rows that share some values exactly (and some NaNs)."""
    rng = np.random.default_rng(seed + 1)
    now = rng.normal(size=(rows, N_FEATURES))
    then = rng.normal(size=(rows, N_FEATURES))
    now[:, 4] = rng.integers(-1, 14, rows)  # includes unseen and negative codes
    then[:, 4] = rng.integers(-1, 14, rows)
    same = rng.random(now.shape) < 0.4
    then[same] = now[same]
    now[rng.random(now.shape) < 0.1] = np.nan
    return now, then


def _brute_force(booster: lgb.Booster, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Shapley values of v(S) = f(x on S, z elsewhere), from all 2^p subsets."""
    p = len(x)
    value = {}
    for mask in itertools.product([False, True], repeat=p):
        row = np.where(np.array(mask), x, z)[None, :]
        value[mask] = float(booster.predict(row, raw_score=True)[0])
    phi = np.zeros(p)
    for i in range(p):
        for mask, v_with in value.items():
            if not mask[i]:
                continue
            without = tuple(m and k != i for k, m in enumerate(mask))
            s = sum(mask) - 1
            weight = math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p)
            phi[i] += weight * (v_with - value[without])
    return phi


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    leaves=st.integers(2, 24),
    rounds=st.integers(1, 30),
    categorical=st.booleans(),
)
def test_change_is_the_exact_shapley_split_of_the_margin_change(
    seed: int, leaves: int, rounds: int, categorical: bool
) -> None:
    booster = _booster(seed, leaves, rounds, categorical)
    now, then = _pairs(seed, 40)
    phi = TreeShap(booster).change(now, then)  # 40 rows: blocks in parallel
    same = (now == then) | (np.isnan(now) & np.isnan(then))
    assert (phi[same] == 0.0).all()
    change = booster.predict(now, raw_score=True) - booster.predict(then, raw_score=True)
    np.testing.assert_allclose(phi.sum(axis=1), change, rtol=0, atol=1e-9)
    for r in range(3):
        oracle = _brute_force(booster, now[r], then[r])
        np.testing.assert_allclose(phi[r], oracle, rtol=0, atol=1e-9)
    one = TreeShap(booster).change(now[:1], then[:1])  # a single pair, in this thread
    np.testing.assert_array_equal(one, phi[:1])


def test_change_equals_shap_interventional_explainer_with_the_earlier_row() -> None:
    booster = _booster(seed=3, leaves=31, rounds=60, categorical=False)
    now, then = _pairs(3, 25)
    then[:, 4] = np.random.default_rng(9).normal(size=25)
    now[:, 4] = np.random.default_rng(10).normal(size=25)
    ours = TreeShap(booster).change(now, then)
    for r in range(len(now)):
        explainer = shap.TreeExplainer(
            booster, data=then[r : r + 1], feature_perturbation="interventional"
        )
        values = np.asarray(explainer.shap_values(now[r : r + 1]))
        values = values[-1] if values.ndim == 3 else values
        np.testing.assert_allclose(ours[r], values[0], rtol=0, atol=1e-6)


def test_change_refuses_rows_of_other_shapes() -> None:
    booster = _booster(seed=1, leaves=4, rounds=2, categorical=False)
    with pytest.raises(ValueError, match="equal shape"):
        TreeShap(booster).change(np.zeros((2, N_FEATURES)), np.zeros((3, N_FEATURES)))


def test_pandas_categories_reach_the_same_split_as_codes() -> None:
    """A categorical booster trained from pandas reads the codes the model encodes."""
    rng = np.random.default_rng(4)
    levels = [f"l{i}" for i in range(9)]
    frame = pd.DataFrame(
        {"a": rng.normal(size=600), "c": pd.Categorical(rng.choice(levels, 600), levels)}
    )
    y = ((frame["c"].cat.codes % 3 == 0) ^ (frame["a"] > 0)).astype(int)
    params = {"objective": "binary", "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1.0}
    booster = lgb.train(params, lgb.Dataset(frame, y), num_boost_round=10)
    X = np.column_stack([frame["a"], frame["c"].cat.codes.astype(float)])
    phi = TreeShap(booster).change(X[:50], X[50:100])
    change = booster.predict(X[:50], raw_score=True) - booster.predict(X[50:100], raw_score=True)
    np.testing.assert_allclose(phi.sum(axis=1), change, rtol=0, atol=1e-9)
