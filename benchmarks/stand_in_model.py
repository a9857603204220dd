"""A stand-in health model for the speed benchmarks: generated accounts (numeric features, three
plans, regions and industries, three segments) and a three-profile model fitted on them, with the
shape of a trained one."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from vitals.features.catalog import FeatureSet, FeatureSpec, Vocabulary
from vitals.models.calibration import Calibrator
from vitals.models.health_model import HealthModel
from vitals.models.profiles import ProfileModel, ProfileRule
from vitals.models.survival import HEALTH_SPAN_DAYS, RiskPiece

SEGMENTS = ["enterprise", "mid_market", "smb"]
LEVELS = {
    "plan": ["basic", "pro", "max"],
    "region": ["emea", "amer", "apac"],
    "industry": [f"industry_{i}" for i in range(12)],
}


def stand_in_catalog(n_numeric: int) -> list[FeatureSpec]:
    """Numeric usage features (every third with a previous window) plus 3 categorical ones."""
    specs = [
        FeatureSpec(
            f"f{i:03d}",
            "usage",
            f"Feature {i}",
            "generated",
            "ratio",
            30,
            True,
            f"f{i:03d}_prev" if i % 3 == 0 else None,
        )
        for i in range(n_numeric)
    ]
    specs += [
        FeatureSpec(n, "attribute", n.title(), "generated", "", kind="categorical") for n in LEVELS
    ]
    return specs


def make_frame(
    catalog: list[FeatureSpec], n: int, seed: int, segments: list[str], levels: dict[str, list[str]]
) -> pd.DataFrame:
    """Snapshot rows for the catalog's features (5 % NaN in numeric features)."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {
        "account_id": [f"acc-{i:06d}" for i in range(n)],
        "as_of": pd.Timestamp("2024-06-01"),
        "segment": rng.choice(np.array([*segments, None], dtype=object), n),
        "tenure_days": rng.uniform(1, 2000, n),
    }
    for spec in catalog:
        if spec.kind == "categorical":
            columns[spec.name] = rng.choice(np.array(levels.get(spec.name, ["?"]), dtype=object), n)
        else:
            values = rng.normal(size=n)
            values[rng.random(n) < 0.05] = np.nan
            columns[spec.name] = values
            if spec.previous:
                columns[spec.previous] = values + rng.normal(0, 0.3, n)
    columns["tenure_days"] = rng.uniform(1, 2000, n)  # routing needs it: never missing
    return pd.DataFrame(columns)


def labels(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    f = frame.filter(regex=r"^f\d{3}$").fillna(0.0).to_numpy()
    logit = -2.5 + f[:, :10] @ np.linspace(-0.8, 0.8, 10) + 0.5 * f[:, 10] * f[:, 11]
    logit += 0.6 * (frame["plan"] == "basic").to_numpy()
    return (rng.random(len(frame)) < 1.0 / (1.0 + np.exp(-logit))).astype(int)


def fit_stand_in(n_train: int, trees: int, leaves: int, n_numeric: int) -> HealthModel:
    """3 profiles (enterprise, mid_market own boosters; smb and default on the pooled one)."""
    catalog = stand_in_catalog(n_numeric)
    names = [s.name for s in catalog]
    train = make_frame(catalog, n_train, seed=1, segments=SEGMENTS, levels=LEVELS)
    y = labels(train, seed=2)
    calib = make_frame(catalog, n_train // 3, seed=3, segments=SEGMENTS, levels=LEVELS)
    y_cal = labels(calib, seed=4)

    def matrix(frame: pd.DataFrame) -> pd.DataFrame:
        X = frame[names].copy()
        for name, levels in LEVELS.items():
            X[name] = pd.Categorical(frame[name], categories=levels)
        return X

    params = {
        "objective": "binary",
        "num_leaves": leaves,
        "learning_rate": 0.03,
        "verbose": -1,
        "min_data_in_leaf": 20,
        "feature_fraction": 0.8,
        "seed": 7,
    }

    def piece(
        name: str, rows: np.ndarray, cal_rows: np.ndarray, booster: lgb.Booster | None
    ) -> ProfileModel:
        pooled = booster is not None
        if booster is None:
            booster = lgb.train(params, lgb.Dataset(matrix(train[rows]), y[rows]), trees)
        margin = booster.predict(matrix(calib[cal_rows]), raw_score=True)
        calibrator = Calibrator("isotonic").fit(margin, y_cal[cal_rows])
        # the risk curve's boosters cost what the health booster does: the same trees stand in
        risk = RiskPiece(booster, calibrator, booster, calibrator)
        return ProfileModel(
            name, booster, calibrator, float(y[rows].mean()), pooled=pooled, risk=risk
        )

    everyone, cal_all = np.ones(len(train), bool), np.ones(len(calib), bool)
    pooled = lgb.train(params, lgb.Dataset(matrix(train), y), trees)
    pieces = [
        piece(
            s,
            (train["segment"] == s).to_numpy(),
            (calib["segment"] == s).to_numpy(),
            pooled if s == "smb" else None,
        )
        for s in SEGMENTS
    ]
    pieces.append(piece("default", everyone, cal_all, pooled))
    routing = [ProfileRule(name=s, segments=(s,)) for s in SEGMENTS]
    declared = FeatureSet(tuple(catalog), Vocabulary(), 90, 30)
    model = HealthModel(declared, routing, health_span_days=HEALTH_SPAN_DAYS)
    return model.fit(pieces, metadata={"model_version": "stand-in"})
