"""Fixtures of the models tests: a small catalog, snapshots and a fitted HealthModel."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from modeldata import (
    make_catalog,
    make_feature_set,
    make_labels,
    make_snapshots,
    routing,
    train_booster,
    training_matrix,
)

from vitals.features.catalog import FeatureSpec
from vitals.models.calibration import Calibrator
from vitals.models.health_model import HealthModel
from vitals.models.profiles import ProfileModel


@pytest.fixture(scope="session")
def catalog() -> list[FeatureSpec]:
    return make_catalog()


@pytest.fixture(scope="session")
def snapshots() -> pd.DataFrame:
    return make_snapshots(400, seed=11)


@pytest.fixture(scope="session")
def fitted_model() -> HealthModel:
    """Pooled booster (isotonic) for enterprise and default; own (Platt) for smb, onboarding."""
    train = make_snapshots(3000, seed=1)
    y = make_labels(train, seed=2)
    calib = make_snapshots(2000, seed=3)
    y_cal = make_labels(calib, seed=4)
    pooled = train_booster(train, y, seed=5)

    def calibrated(booster: lgb.Booster, mask: np.ndarray, method: str) -> Calibrator:
        margin = booster.predict(training_matrix(calib[mask]), raw_score=True)
        return Calibrator(method).fit(margin, y_cal[mask])

    onboarding = (train["tenure_days"] < 90).to_numpy()
    smb = (train["segment"] == "smb").to_numpy() & ~onboarding
    own_onboarding = train_booster(train[onboarding], y[onboarding], seed=6)
    own_smb = train_booster(train[smb], y[smb], seed=7)
    cal_onb = (calib["tenure_days"] < 90).to_numpy()
    cal_smb = (calib["segment"] == "smb").to_numpy() & ~cal_onb
    everyone = np.ones(len(calib), dtype=bool)
    pieces = [
        ProfileModel(
            "onboarding",
            own_onboarding,
            calibrated(own_onboarding, cal_onb, "sigmoid"),
            base_rate=float(y[onboarding].mean()),
        ),
        ProfileModel(
            "smb", own_smb, calibrated(own_smb, cal_smb, "sigmoid"), base_rate=float(y[smb].mean())
        ),
        ProfileModel(
            "enterprise",
            pooled,
            calibrated(pooled, everyone, "isotonic"),
            base_rate=float(y.mean()),
            pooled=True,
        ),
        ProfileModel(
            "default",
            pooled,
            calibrated(pooled, everyone, "isotonic"),
            base_rate=float(y.mean()),
            pooled=True,
        ),
    ]
    model = HealthModel(make_feature_set(), routing(), default_profile="default")
    return model.fit(
        pieces, metadata={"model_version": "test", "train_window": ["2023-01-01", "2024-01-01"]}
    )
