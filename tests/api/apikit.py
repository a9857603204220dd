"""Builders for the API tests: sample data, a small fitted model, and a filled health store.

The store is filled the way production fills it: ``backfill`` scores a few dates into it, then
the feature vectors and the account tree are written with :mod:`serving.store.features_table`.
"""

from __future__ import annotations

from datetime import date
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
from serving.batch import RunOptions, backfill
from serving.store import HealthRepository, HealthStore
from serving.store.features_table import write_hierarchy, write_latest_features
from vitals.settings import Settings

ACCOUNTS, MONTHS, SEED = 240, 12, 3


def write_sample(directory: Path) -> Path:
    """A simulated data directory (Parquet)."""
    write_dataset(simulate(accounts=ACCOUNTS, months=MONTHS, seed=SEED), directory, "parquet")
    return directory


def training_snapshots(data_dir: Path) -> Snapshots:
    """Monthly snapshots over the whole data, labels included."""
    dataset = load_dataset(data_dir)
    return build_features(dataset, default_dates(dataset, every="1mo"))


def fit_model(snapshots: Snapshots, version: str, rounds: int = 20) -> HealthModel:
    """A small HealthModel: one pooled booster and a Platt calibrator shared by every profile."""
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
    params = {
        "objective": "binary",
        "num_leaves": 7,
        "min_data_in_leaf": 20,
        "learning_rate": 0.1,
        "verbose": -1,
        "seed": 0,
        "num_threads": 1,
        "deterministic": True,
    }
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=rounds)
    calibrator = Calibrator("sigmoid").fit(booster.predict(X, raw_score=True), y)
    base_rate = float(np.clip(y.mean(), 0.01, 0.99))
    router = ProfileRouter(settings.profiles, settings.default_profile)
    pieces = [
        ProfileModel(name, booster, calibrator, base_rate, pooled=True)
        for name in router.profile_names
    ]
    metadata = {
        "model_version": version,
        "key_features": snapshots.key_features,
        "horizon_days": snapshots.horizon_days,
        "grace_days": snapshots.grace_days,
        "windows": {"train": {"start": "2025-01-01", "end": "2025-09-01"}},
    }
    return HealthModel.from_settings(snapshots.catalog, settings).fit(pieces, metadata=metadata)


def fill_store(url: str, data_dir: Path, model_dir: Path, model: HealthModel) -> list[date]:
    """Backfill 120 days every 30 days, then store the vectors and the tree; returns the dates."""
    backfill(
        str(data_dir),
        days=120,
        every="30d",
        options=RunOptions(model=str(model_dir), database_url=url),
    )
    store = HealthStore.open(url)
    try:
        with store.session() as session:
            dates = HealthRepository(session).dates()
        dataset = load_dataset(data_dir)
        snapshots = build_features(
            dataset, dates, key_features=model.metadata_["key_features"]
        ).to_pandas()
        for day, frame in snapshots.groupby("as_of", sort=True):
            write_latest_features(store, frame, pd.Timestamp(day).date(), "test-1")
        tree = dataset.con.execute("SELECT account_id, parent_id FROM accounts").df()
        write_hierarchy(store, tree, dates[-1])
        dataset.con.close()
    finally:
        store.close()
    return dates


def auth(key: str) -> dict[str, str]:
    """Headers sending ``key``."""
    return {"X-API-Key": key}
