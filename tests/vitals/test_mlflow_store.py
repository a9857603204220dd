"""One place sets the MLflow store: precedence, absolute paths, and no stray empty store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from vitals.config import mlflow_store
from vitals.config.settings import MlflowSettings, get_settings


@pytest.fixture(autouse=True)
def _in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("VITALS_CONFIG", str(tmp_path / "none.toml"))
    get_settings.cache_clear()


def test_environment_then_settings_then_the_embedded_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert mlflow_store.tracking_uri() == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    configured = MlflowSettings(tracking_uri="sqlite:///elsewhere/m.db")
    assert mlflow_store.tracking_uri(configured) == f"sqlite:///{tmp_path}/elsewhere/m.db"
    assert mlflow_store.registry_uri(configured) == mlflow_store.tracking_uri(configured)
    split = MlflowSettings(tracking_uri="http://127.0.0.1:5000", registry_uri="sqlite:///r.db")
    assert mlflow_store.registry_uri(split) == f"sqlite:///{tmp_path}/r.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///from-env.db")
    assert mlflow_store.tracking_uri(configured) == f"sqlite:///{tmp_path}/from-env.db"


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(mlflow_store.StoreMissingError, match="vitals train --register"):
        mlflow_store.use_store()
    assert list(tmp_path.iterdir()) == []


def test_writing_sets_tracking_and_registry_for_the_process(tmp_path: Path) -> None:
    uri = mlflow_store.use_store(create=True)
    assert (tmp_path / "mlruns").is_dir()
    assert mlflow.get_tracking_uri() == uri == mlflow.get_registry_uri()
    mlflow.MlflowClient().search_registered_models()
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert not (tmp_path / "mlflow.db").exists()
    assert mlflow_store.use_store() == uri
