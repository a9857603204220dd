import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from vitals.features.catalog import FEATURE_SET_VERSION
from vitals.models.health_model import HealthModel
from vitals.models.mlflow_adapter import load_health_model, log_health_model


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
    declared = manifest["feature_set"]
    assert [f["name"] for f in declared["features"]] == fitted_model.feature_names_
    assert (declared["entity"], declared["timestamp"]) == ("account_id", "as_of")
    assert declared["version"] == FEATURE_SET_VERSION
    assert {f["name"]: f["dtype"] for f in declared["features"]}["plan"] == "string"
    assert "unused" not in {f["name"] for f in declared["features"]}  # only what the model reads
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
        # a model logged by another layout of the code (before the vitals.* namespace, its
        # logged code imported `models.*`): Vitals reads it without running that code
        local = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path)))
        code = local / "pyfunc_model.py"
        code.write_text(code.read_text().replace("vitals.models.", "old_layout.models."))
        with pytest.raises(MlflowException, match="old_layout"):
            mlflow.pyfunc.load_model(str(local))
        old = load_health_model(local)
        pd.testing.assert_frame_equal(old.predict(snapshots), fitted_model.predict(snapshots))
    finally:
        mlflow.set_tracking_uri(None)


def test_a_format_1_directory_still_loads(
    fitted_model: HealthModel, snapshots: pd.DataFrame, tmp_path: Path
) -> None:
    directory = fitted_model.save(tmp_path / "model")
    manifest = json.loads((directory / "manifest.json").read_text())
    declared = manifest.pop("feature_set")
    manifest.update(
        format_version=1,
        features=[f["name"] for f in declared["features"]],
        catalog=[{k: v for k, v in f.items() if k != "dtype"} for f in declared["features"]],
        horizon_days=declared["horizon_days"],
        routing=[{**r, "min_train_snapshots": 2000} for r in manifest["routing"]],
    )
    manifest["metadata"].update(key_features=["reports"], grace_days=21)
    (directory / "manifest.json").write_text(json.dumps(manifest))
    loaded = HealthModel.load(directory)
    pd.testing.assert_frame_equal(loaded.predict(snapshots), fitted_model.predict(snapshots))
    assert loaded.feature_set_.vocabulary.features == ("reports",)
    assert (loaded.feature_set_.grace_days, loaded.feature_set_.version) == (21, 1)
    manifest["metadata"].pop("key_features")
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="retrain"):
        HealthModel.load(directory)
