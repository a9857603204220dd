"""Attributes that memorise are left out; attributes that carry signal over time stay."""

import numpy as np
import pandas as pd

from vitals.config.settings import TrainingSettings
from vitals.training.attribute_check import check_attributes
from vitals.training.data import LABEL
from vitals.training.fit import base_params
from vitals.training.splits import TimeSplit


def _window(rng: np.random.Generator, n: int, noise_effect: np.ndarray) -> pd.DataFrame:
    """Rows where ``plan`` always matters and ``country`` matters only as ``noise_effect`` says."""
    usage = rng.normal(size=n)
    plan = rng.choice(["basic", "pro", "max"], n)
    country = rng.choice([f"c{i:02d}" for i in range(30)], n)
    margin = -2.0 - 1.2 * usage + np.where(plan == "basic", 1.5, 0.0)
    margin += noise_effect[np.array([int(c[1:]) for c in country])]
    churned = (rng.random(n) < 1 / (1 + np.exp(-margin))).astype(np.int64)
    return pd.DataFrame(
        {"usage": usage, "segment": rng.choice(["smb", "enterprise"], n), "attr_plan": plan,
         "attr_country": country, LABEL: churned}
    )  # fmt: skip


def test_an_attribute_whose_effect_does_not_last_is_left_out() -> None:
    rng = np.random.default_rng(5)
    # in training each country has its own churn rate; later the countries swap at random
    train = _window(rng, 6000, rng.normal(0, 1.0, 30))
    later = _window(rng, 3000, rng.normal(0, 1.0, 30))
    split = TimeSplit(train, later, later.iloc[:0], {}, 0)
    features = ["usage", "segment", "attr_plan", "attr_country"]
    levels = {c: sorted(train[c].unique()) for c in ("segment", "attr_plan", "attr_country")}
    config = TrainingSettings(num_boost_round=300, early_stopping_rounds=30)
    params = base_params(
        {"learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 50, "cat_smooth": 1.0,
         "min_data_per_group": 20}, seed=1, num_threads=1,
    )  # fmt: skip
    checked = check_attributes(split, features, levels, params, config)
    assert checked.dropped == ["attr_country"]
    assert checked.features == ["usage", "segment", "attr_plan"]
    assert set(checked.report) == {"attr_plan", "attr_country"}  # the segment is exempt
    plan = checked.report["attr_plan"]
    assert plan["validation_auc_without"] < plan["validation_auc_with"]

    off = config.model_copy(update={"check_attributes": False})
    assert check_attributes(split, features, levels, params, off).features == features
