"""Builders of small seeded data for the models tests: catalog, snapshots, labels, boosters."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from vitals.features.catalog import FeatureSet, FeatureSpec, Vocabulary
from vitals.models.profiles import ProfileRule
from vitals.models.scoring import Bands

PLANS = ["basic", "max", "pro"]
FEATURES = ["active_users_per_seat", "logins_30d", "tickets_90d", "nps", "plan"]


def make_catalog() -> list[FeatureSpec]:
    return [
        FeatureSpec(
            "active_users_per_seat",
            "engagement",
            "Active users per seat",
            "Active users / seats.",
            "ratio",
            30,
            True,
            "active_users_per_seat_prev",
        ),
        FeatureSpec("logins_30d", "usage", "Logins", "Logins in 30 days.", "logins", 30, True),
        FeatureSpec(
            "tickets_90d", "support", "Support tickets", "Tickets opened.", "tickets", 90, False
        ),
        FeatureSpec("nps", "feedback", "Latest NPS", "Latest NPS answer.", "score", None, True),
        FeatureSpec("plan", "attribute", "Plan", "Current plan.", "", kind="categorical"),
        FeatureSpec("unused", "usage", "Unused", "Not in the boosters.", "count"),
    ]


def make_snapshots(n: int, seed: int, as_of: str = "2024-06-01") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "account_id": [f"acc-{i:05d}" for i in range(n)],
            "as_of": pd.Timestamp(as_of),
            "segment": rng.choice(np.array(["smb", "enterprise", "web", None], dtype=object), n),
            "tenure_days": rng.uniform(5, 1500, n),
            "active_users_per_seat": rng.uniform(0, 1, n),
            "active_users_per_seat_prev": rng.uniform(0, 1, n),
            "logins_30d": rng.poisson(20, n).astype(float),
            "tickets_90d": rng.poisson(2, n).astype(float),
            "nps": rng.integers(0, 11, n).astype(float),
            "plan": rng.choice(np.array([*PLANS, None], dtype=object), n, p=[0.4, 0.2, 0.3, 0.1]),
            "note": "extra column, ignored",
        }
    )
    frame.loc[rng.random(n) < 0.1, "active_users_per_seat"] = np.nan
    frame.loc[rng.random(n) < 0.3, "nps"] = np.nan
    return frame


def make_labels(frame: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logit = (
        -1.2
        - 2.5 * frame["active_users_per_seat"].fillna(0.3).to_numpy()
        + 0.35 * frame["tickets_90d"].to_numpy()
        - 0.03 * frame["logins_30d"].to_numpy()
        + 0.8 * (frame["plan"] == "basic").to_numpy()
        + 0.8 * (frame["tenure_days"] < 90).to_numpy()
    )
    return (rng.random(len(frame)) < 1.0 / (1.0 + np.exp(-logit))).astype(int)


def training_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    X = frame[FEATURES].copy()
    X["plan"] = pd.Categorical(frame["plan"], categories=PLANS)
    return X


def train_booster(frame: pd.DataFrame, y: np.ndarray, seed: int) -> lgb.Booster:
    params = {
        "objective": "binary",
        "num_leaves": 15,
        "learning_rate": 0.1,
        "min_data_in_leaf": 10,
        "verbose": -1,
        "seed": seed,
        "num_threads": 1,
    }
    return lgb.train(params, lgb.Dataset(training_matrix(frame), y), num_boost_round=40)


def make_feature_set(catalog: list[FeatureSpec] | None = None) -> FeatureSet:
    """The catalog (default :func:`make_catalog`) declared for a 90-day horizon."""
    return FeatureSet(tuple(make_catalog() if catalog is None else catalog), Vocabulary(), 90, 30)


def routing() -> list[ProfileRule]:
    return [
        ProfileRule(name="onboarding", max_tenure_days=90),
        ProfileRule(name="smb", segments=("smb",)),
        ProfileRule(name="enterprise", segments=("enterprise",), bands=Bands(good=80, poor=60)),
    ]
