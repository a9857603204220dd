"""Fixtures of the API tests: a model fitted on sample data, a filled store, keys and clients.

Nothing touches the shared ``vitals.db`` or ``mlruns/``: stores live under temporary folders and
MLflow's tracking URI points at a temporary SQLite file (``_isolated`` and ``sample_dir`` come
from :mod:`kit`, shared with the serving tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from apikit import TRAIN_WINDOWS, fill_store
from fastapi.testclient import TestClient
from kit import (
    fit_model,
    isolated_environment,  # noqa: F401  (the autouse fixture _isolated)
    sample_data_dir,  # noqa: F401  (the fixture sample_dir)
    training_snapshots,
)

from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.models.health_model import HealthModel
from vitals.serving.api.app import create_app
from vitals.serving.api.auth import create_key
from vitals.serving.batch import LoadedModel
from vitals.serving.store import HealthStore

SCOPES = ("read", "predict", "ingest", "annotate", "admin")


@pytest.fixture(scope="session")
def snapshots(sample_dir: Path) -> Snapshots:
    return training_snapshots(sample_dir)


@pytest.fixture(scope="session")
def model(snapshots: Snapshots) -> HealthModel:
    return fit_model(snapshots, "test-1", rounds=20, windows=TRAIN_WINDOWS)


@pytest.fixture(scope="session")
def model_dir(model: HealthModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.save(tmp_path_factory.mktemp("model") / "health_model")


@pytest.fixture(scope="session")
def store_url(
    sample_dir: Path, model_dir: Path, model: HealthModel, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A store filled by backfill, with feature vectors and the tree (read-only by convention)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store')}/vitals.db"
    fill_store(url, sample_dir, model_dir, model)
    return url


@pytest.fixture(scope="session")
def dates(store_url: str) -> list[date]:
    from vitals.serving.store import HealthRepository

    store = HealthStore.open(store_url)
    with store.session() as session:
        found = HealthRepository(session).dates()
    store.close()
    return found


@pytest.fixture(scope="session")
def keys(store_url: str) -> dict[str, str]:
    """One key per scope, by scope name."""
    store = HealthStore.open(store_url)
    made = {scope: create_key(store, [scope], f"test {scope}").key for scope in SCOPES}
    store.close()
    return made


@pytest.fixture(scope="module")
def client(store_url: str, model: HealthModel, model_dir: Path) -> Iterator[TestClient]:
    """A client of an app serving ``model`` over the filled store (reloads read ``model_dir``)."""
    store = HealthStore.open(store_url)
    settings = Settings(database_url=store_url, serving={"model": str(model_dir)})
    app = create_app(settings, model=LoadedModel(model, str(model_dir), "test-1"), store=store)
    with TestClient(app) as opened:
        yield opened
    store.close()
