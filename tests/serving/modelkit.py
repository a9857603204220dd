"""Builders for the serving tests: a small simulated data directory and a HealthModel fitted on it.

The model is one small pooled LightGBM booster with a Platt calibrator, shared by every profile of
the default settings, fitted on the labelled monthly snapshots of the simulated data.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.build import Snapshots, build_features, default_dates
from features.loader import load_dataset
from features.simulate import simulate, write_dataset
from models.calibration import Calibrator
from models.health_model import HealthModel
from models.profiles import ProfileModel, ProfileRouter
from vitals.settings import Settings

ACCOUNTS, MONTHS, SEED = 240, 12, 3


def write_sample(directory: Path, accounts: int = ACCOUNTS, seed: int = SEED) -> Path:
    """A simulated data directory (Parquet)."""
    write_dataset(simulate(accounts=accounts, months=MONTHS, seed=seed), directory, "parquet")
    return directory


def training_snapshots(data_dir: Path) -> Snapshots:
    """Monthly snapshots over the whole data, labels included."""
    dataset = load_dataset(data_dir)
    return build_features(dataset, default_dates(dataset, every="1mo"))


def fit_model(snapshots: Snapshots, version: str = "test-1", rounds: int = 15) -> HealthModel:
    """A small fitted HealthModel whose metadata names its key features and horizon."""
    settings = Settings()
    frame = snapshots.to_pandas()
    labelled = frame[frame["churned_within_horizon"].notna()].reset_index(drop=True)
    names = [n for n in snapshots.feature_names if n != "segment"]
    X = labelled[names].copy()
    for spec in snapshots.catalog:
        if spec.kind == "categorical" and spec.name in X.columns:
            values = X[spec.name].astype(object)
            X[spec.name] = pd.Categorical(values, categories=sorted(values.dropna().unique()))
    y = labelled["churned_within_horizon"].to_numpy(dtype=int)
    params = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 20, "learning_rate": 0.1,
              "verbose": -1, "seed": 0, "num_threads": 1, "deterministic": True}  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=rounds)
    calibrator = Calibrator("sigmoid").fit(booster.predict(X, raw_score=True), y)
    base_rate = float(np.clip(y.mean(), 0.01, 0.99))
    router = ProfileRouter(settings.profiles, settings.default_profile)
    pieces = [ProfileModel(name, booster, calibrator, base_rate, pooled=True)
              for name in router.profile_names]  # fmt: skip
    metadata = {
        "model_version": version,
        "key_features": snapshots.key_features,
        "horizon_days": snapshots.horizon_days,
        "grace_days": snapshots.grace_days,
    }
    return HealthModel.from_settings(snapshots.catalog, settings).fit(pieces, metadata=metadata)
