"""Fixtures of the drift tests: a store filled with six monthly dates of scores and vectors.

Sample data, its snapshots, the fitted model (saved without a drift reference, like models
trained before drift monitoring) and the isolated environment come from
:mod:`tests.serving.conftest`. The filled store is built once and copied for each test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from driftkit import VERSION, with_reference

from vitals.features.build import Snapshots
from vitals.features.loader import load_dataset
from vitals.models.health_model import HealthModel
from vitals.serving.batch import LoadedModel
from vitals.serving.batch.frames import roll_up_scores, score_accounts
from vitals.serving.batch.jobs import publish_scored
from vitals.serving.store import HealthStore

STORED_DATES = 6


@pytest.fixture(scope="session")
def frames(sample_snapshots: Snapshots) -> dict[date, pd.DataFrame]:
    """The snapshot rows of the last six monthly dates, by date."""
    table = sample_snapshots.to_pandas()
    dates = sorted(table["as_of"].unique())[-STORED_DATES:]
    return {d: table[table["as_of"] == d].reset_index(drop=True) for d in dates}


@pytest.fixture(scope="session")
def drift_model(
    health_model: HealthModel, sample_snapshots: Snapshots, frames: dict[date, pd.DataFrame]
) -> HealthModel:
    """The fitted model with the newest date's distribution as its reference."""
    newest = frames[max(frames)]
    return with_reference(health_model, sample_snapshots.feature_set, newest)


@pytest.fixture(scope="session")
def scored(drift_model: HealthModel, frames: dict[date, pd.DataFrame]) -> dict[date, pd.DataFrame]:
    """The model's scores of each stored date."""
    return {d: score_accounts(drift_model, frame, VERSION) for d, frame in frames.items()}


@pytest.fixture(scope="session")
def filled_store(
    tmp_path_factory: pytest.TempPathFactory,
    sample_dir: Path,
    drift_model: HealthModel,
    frames: dict[date, pd.DataFrame],
    scored: dict[date, pd.DataFrame],
) -> Path:
    """A store file holding the scores, vectors and tree of every stored date."""
    path = tmp_path_factory.mktemp("drift-store") / "vitals.db"
    store = HealthStore.open(f"sqlite:///{path}")
    dataset = load_dataset(sample_dir)
    tree = dataset.con.execute("SELECT account_id, parent_id FROM accounts").df()
    dataset.con.close()
    runs = [(d, frames[d], scored[d], roll_up_scores(drift_model, tree, scored[d])) for d in frames]
    loaded = LoadedModel(drift_model, "in-process", VERSION)
    publish_scored(store, loaded, "backfill", "duckdb", list(frames), runs, tree)
    store.close()
    return path


@pytest.fixture
def store_url(filled_store: Path, tmp_path: Path) -> str:
    """A fresh copy of the filled store."""
    copy = tmp_path / "vitals.db"
    shutil.copy(filled_store, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def store(store_url: str) -> Iterator[HealthStore]:
    opened = HealthStore.open(store_url)
    yield opened
    opened.close()
