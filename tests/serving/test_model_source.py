"""``--model``: registry aliases and versions, MLflow URIs and directories, and clear failures."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from vitals.features.build import Snapshots
from vitals.models.health_model import HealthModel
from vitals.models.mlflow_adapter import log_health_model
from vitals.serving.batch import ModelNotFoundError, load_model


@pytest.fixture
def registered(
    health_model: HealthModel,
    sample_snapshots: Snapshots,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> pd.DataFrame:
    """The model registered as vitals-health version 1 with alias champion; returns sample rows."""
    rows = sample_snapshots.to_pandas().head(20)
    uri = f"sqlite:///{tmp_path}/mlflow.db"  # what MLFLOW_TRACKING_URI says in these tests
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment("serving", artifact_location=str(tmp_path / "art"))
        with mlflow.start_run(experiment_id=experiment):
            log_health_model(health_model, input_example=rows.head(5),
                             registered_model_name="vitals-health")  # fmt: skip
        MlflowClient().set_registered_model_alias("vitals-health", "champion", "1")
    finally:
        mlflow.set_tracking_uri(None)  # this also clears MLFLOW_TRACKING_URI: set it back
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return rows


@pytest.mark.slow
def test_aliases_versions_and_uris_load_the_registered_model(
    registered: pd.DataFrame, health_model: HealthModel
) -> None:
    expected = health_model.predict(registered)
    for spec in ("champion", "vitals-health@champion", "models:/vitals-health/1"):
        loaded = load_model(spec)
        assert loaded.version == "vitals-health/1", spec
        pd.testing.assert_frame_equal(loaded.model.predict(registered), expected)
    assert load_model("champion").uri == "models:/vitals-health@champion"
    with pytest.raises(ModelNotFoundError, match="challenger"):
        load_model("challenger")


def test_a_saved_directory_loads_with_its_recorded_version(model_dir: Path) -> None:
    loaded = load_model(str(model_dir))
    assert loaded.version == "test-1"
    assert loaded.uri == str(model_dir.resolve())


def test_paths_that_hold_no_model_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no such model directory"):
        load_model(str(tmp_path / "missing" / "model"))
    with pytest.raises(ModelNotFoundError, match="not a saved health model"):
        load_model(str(tmp_path))
