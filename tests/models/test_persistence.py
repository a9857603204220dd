import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from models.health_model import HealthModel
from models.mlflow_adapter import load_health_model, log_health_model


def test_save_load_gives_identical_predictions_and_reasons(
    fitted_model: HealthModel, snapshots: pd.DataFrame, tmp_path: Path
) -> None:
    directory = fitted_model.save(tmp_path / "model")
    loaded = HealthModel.load(directory)
    pd.testing.assert_frame_equal(loaded.predict(snapshots), fitted_model.predict(snapshots))
    pd.testing.assert_frame_equal(
        loaded.explain(snapshots).reasons, fitted_model.explain(snapshots).reasons
    )
    assert loaded.metadata_ == fitted_model.metadata_
    assert {n: p.piece.pooled for n, p in loaded.profiles_.items()} == {
        n: p.piece.pooled for n, p in fitted_model.profiles_.items()
    }


def test_saved_directory_is_text_only_with_the_pooled_booster_once(
    fitted_model: HealthModel, tmp_path: Path
) -> None:
    directory = fitted_model.save(tmp_path / "model")
    files = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    assert files == ["boosters/00.txt", "boosters/01.txt", "boosters/02.txt", "manifest.json"]
    manifest = json.loads((directory / "manifest.json").read_text())
    boosters = {p["name"]: p["booster"] for p in manifest["profiles"]}
    assert boosters["enterprise"] == boosters["default"]
    assert manifest["features"] == fitted_model.feature_names_
    assert manifest["profiles"][0]["categories"] == {"plan": ["basic", "max", "pro"]}
    with pytest.raises(FileExistsError):
        fitted_model.save(directory)


def test_pyfunc_predict_equals_health_model_predict(
    fitted_model: HealthModel, snapshots: pd.DataFrame, tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        experiment = mlflow.create_experiment(
            "models-test", artifact_location=str(tmp_path / "artifacts")
        )
        with mlflow.start_run(experiment_id=experiment):
            info = log_health_model(fitted_model, input_example=snapshots.head(5))
        names = info.signature.inputs.input_names()
        assert "tenure_days" in names and "note" not in names
        pyfunc = mlflow.pyfunc.load_model(info.model_uri)
        expected = fitted_model.predict(snapshots).reset_index(drop=True)
        pd.testing.assert_frame_equal(pyfunc.predict(snapshots), expected, check_dtype=False)
        loaded = load_health_model(info.model_uri)
        pd.testing.assert_frame_equal(loaded.predict(snapshots), fitted_model.predict(snapshots))
    finally:
        mlflow.set_tracking_uri(None)
