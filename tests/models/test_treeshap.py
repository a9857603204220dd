import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap

from vitals.models.treeshap import TreeShap


def _numeric_booster(zero_as_missing: bool) -> tuple[lgb.Booster, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 12))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[rng.random(X.shape) < 0.05] = 0.0
    margin = np.nan_to_num(X[:, 0] * X[:, 1] - X[:, 2] + 0.5 * X[:, 0] ** 2)
    y = (rng.random(3000) < 1 / (1 + np.exp(-margin))).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": 31,
        "verbose": -1,
        "num_threads": 1,
        "zero_as_missing": zero_as_missing,
        "min_data_in_leaf": 5,
    }
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=60)
    test = rng.normal(size=(500, 12))
    test[rng.random(test.shape) < 0.1] = np.nan
    test[rng.random(test.shape) < 0.05] = 0.0
    return booster, test


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_matches_lightgbm_pred_contrib_on_numeric_features(zero_as_missing: bool) -> None:
    booster, X = _numeric_booster(zero_as_missing)
    explainer = TreeShap(booster)
    ours = explainer.contributions(X)  # blocks of rows, in parallel
    np.testing.assert_allclose(ours, booster.predict(X, pred_contrib=True), rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.sum(axis=1), booster.predict(X, raw_score=True), atol=1e-9)
    few = explainer.contributions(X[:5])  # row by row: the very same values
    np.testing.assert_array_equal(few, ours[:5])
    np.testing.assert_array_equal(explainer.contributions(X[7:8]), ours[7:8])


def test_matches_lightgbm_on_categorical_splits_with_unseen_and_missing_codes() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    levels = [f"l{i}" for i in range(45)]
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "c": pd.Categorical(rng.choice(levels, n), categories=levels),
            "b": rng.normal(size=n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "c"] = np.nan
    y = ((frame["c"].cat.codes % 4 == 0) ^ (frame["a"] > 0.3)).astype(int)
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "verbose": -1,
        "num_threads": 1,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
    }
    booster = lgb.train(params, lgb.Dataset(frame, y), num_boost_round=40)
    assert "'decision_type': '=='" in str(booster.dump_model())  # trees split on the category
    codes = frame["c"].cat.codes.to_numpy().astype(float)
    X = np.column_stack([frame["a"], np.where(codes >= 0, codes, np.nan), frame["b"]])[:600]
    X[:20, 1] = 77.0  # a code beyond every bitset
    X[20:30, 1] = -2.0
    ours = TreeShap(booster).contributions(X)
    np.testing.assert_allclose(ours, booster.predict(X, pred_contrib=True), rtol=0, atol=1e-9)


def test_a_categorical_with_one_value_in_the_training_rows_stays_categorical() -> None:
    # a profile's own booster sees a single segment: LightGBM lists no levels for it, yet it is
    # one of the booster's categorical inputs, as it is the model's
    rng = np.random.default_rng(2)
    n = 2000
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "segment": pd.Categorical(["smb"] * n, categories=["enterprise", "smb"]),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
        }
    )
    y = (frame["a"] + rng.normal(size=n) > 0).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_per_group": 5}
    booster = lgb.train(params, lgb.Dataset(frame, y), num_boost_round=5)
    assert "segment" not in booster.dump_model()["feature_infos"]
    reloaded = lgb.Booster(model_str=booster.model_to_string())  # as a saved model loads
    assert TreeShap(reloaded).categorical_features == ["segment", "plan"]


def test_equals_shap_tree_explainer_within_1e_6() -> None:
    booster, X = _numeric_booster(False)
    ours = TreeShap(booster).contributions(X)
    explainer = shap.TreeExplainer(booster)
    values = np.asarray(explainer.shap_values(X))
    values = values[-1] if values.ndim == 3 else values  # older shap returned one array per class
    expected = np.asarray(explainer.expected_value).ravel()[-1]
    np.testing.assert_allclose(ours[:, :-1], values, rtol=0, atol=1e-6)
    assert ours[0, -1] == pytest.approx(expected, abs=1e-6)


def test_single_leaf_trees_only_add_to_the_base_value() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = np.zeros(200, dtype=int)
    y[:20] = 1
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "min_data_in_leaf": 150},
        lgb.Dataset(X, y),
        num_boost_round=3,
    )
    ours = TreeShap(booster).contributions(X[:5])
    np.testing.assert_allclose(ours, booster.predict(X[:5], pred_contrib=True), atol=1e-12)
    margins, _ = TreeShap(booster).explain(X[:5])
    np.testing.assert_array_equal(margins, booster.predict(X[:5], raw_score=True))


@pytest.mark.parametrize("rows", [1, 7, 500])  # row by row, and blocks in parallel
def test_explain_gives_lightgbm_margins_exactly_with_its_contributions(rows: int) -> None:
    booster, X = _numeric_booster(zero_as_missing=True)
    margins, phi = TreeShap(booster).explain(X[:rows])
    np.testing.assert_array_equal(margins, booster.predict(X[:rows], raw_score=True))
    np.testing.assert_allclose(phi, booster.predict(X[:rows], pred_contrib=True), atol=1e-9)


def test_linear_trees_are_refused() -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3))
    params = {"objective": "binary", "linear_tree": True, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(X, (X[:, 0] > 0).astype(int)), num_boost_round=3)
    with pytest.raises(ValueError, match="linear trees"):
        TreeShap(booster)
