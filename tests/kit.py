"""Set-up shared by the API and serving tests: sample data, a small fitted model, an isolated env.

The model is one small pooled LightGBM booster with a Platt calibrator, shared by every profile of
the default settings, fitted on the labelled monthly snapshots of the simulated data.

The fixtures here, ``_isolated`` (autouse) and ``sample_dir``, take effect in a test directory whose
``conftest.py`` imports their functions (``isolated_environment``, ``sample_data_dir``); they are
named with ``name=`` so that importing them does not shadow the fixture arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from vitals.config.settings import Settings, get_settings
from vitals.features.build import Snapshots, build_features, default_dates
from vitals.features.loader import load_dataset
from vitals.features.simulate import simulate, write_dataset
from vitals.models.calibration import Calibrator
from vitals.models.health_model import HealthModel
from vitals.models.profiles import ProfileModel, ProfileRouter
from vitals.training.assemble import profile_rules, unfitted_model
from vitals.training.data import categories_of, design_matrix

ACCOUNTS, MONTHS, SEED = 240, 12, 3


def write_sample(directory: Path, accounts: int = ACCOUNTS, seed: int = SEED) -> Path:
    """A simulated data directory (Parquet)."""
    write_dataset(simulate(accounts=accounts, months=MONTHS, seed=seed), directory, "parquet")
    return directory


def training_snapshots(data_dir: Path) -> Snapshots:
    """Monthly snapshots over the whole data, labels included."""
    dataset = load_dataset(data_dir)
    return build_features(dataset, default_dates(dataset, every="1mo"))


def fit_model(
    snapshots: Snapshots,
    version: str,
    rounds: int,
    windows: dict[str, dict[str, str]] | None = None,
) -> HealthModel:
    """A small HealthModel: one pooled booster and a Platt calibrator shared by every profile.

    Its metadata names the version, key features and horizon, and ``windows`` when given.
    """
    settings = Settings()
    frame = snapshots.to_pandas()
    labelled = frame[frame["churned_within_horizon"].notna()].reset_index(drop=True)
    names = [n for n in snapshots.feature_names if n != "segment"]
    categorical = [s.name for s in snapshots.catalog if s.kind == "categorical" and s.name in names]
    X = design_matrix(labelled, names, categories_of(labelled, categorical))
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
    router = ProfileRouter(profile_rules(settings.profiles), settings.default_profile)
    pieces = [
        ProfileModel(name, booster, calibrator, base_rate, pooled=True)
        for name in router.profile_names
    ]
    metadata: dict[str, Any] = {"model_version": version}
    if windows is not None:
        metadata["windows"] = windows
    return unfitted_model(snapshots.feature_set, settings).fit(pieces, metadata=metadata)


@pytest.fixture(autouse=True, name="_isolated")
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Keep a test off the shared ``vitals.db``, ``mlruns/`` and a developer's ``vitals.toml``."""
    monkeypatch.setenv("VITALS_DATABASE_URL", f"sqlite:///{tmp_path}/default-vitals.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("VITALS_CONFIG", str(tmp_path / "no-vitals.toml"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session", name="sample_dir")
def sample_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated data directory (read-only by convention: copy it to change it)."""
    return write_sample(tmp_path_factory.mktemp("sample") / "data")
