"""Training with MLflow on a private SQLite store: logged run, registry, promotion, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from trainingdata import free_port, with_training

import vitals.training.train as train_module
from vitals.config.settings import Settings
from vitals.models.mlflow_adapter import load_health_model
from vitals.training.errors import PromotionRefused, TrackingError, TrainingError
from vitals.training.registry import CHALLENGER, CHAMPION
from vitals.training.train import TrainingResult, evaluate, promote, train

NAME = "vitals-health"


@pytest.fixture
def trained(tracking: str, snapshot_file: Path, settings: Settings) -> TrainingResult:
    return train(features=snapshot_file, settings=settings, register=True, trials=0)


def weak(settings: Settings) -> Settings:
    """Settings that train a far worse model (stumps, two rounds)."""
    lightgbm = {"learning_rate": 0.01, "num_leaves": 2, "min_data_in_leaf": 2000}
    return with_training(settings, lightgbm=lightgbm, num_boost_round=2, early_stopping_rounds=1)


def test_a_run_logs_report_metrics_plots_catalog_window_and_model(
    trained: TrainingResult, tracking: str, tmp_path: Path
) -> None:
    client = MlflowClient()
    run = client.get_run(trained.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["vitals.auc"] == pytest.approx(
        trained.report["models"]["vitals"]["overall"]["auc"]
    )
    assert "pooled.smb.brier" in run.data.metrics
    assert run.data.params["horizon_days"] == "90"
    top = {a.path for a in client.list_artifacts(trained.run_id)}
    assert {"report.json", "catalog.json", "data_window.json", "plots"} <= top
    plots = {Path(a.path).name for a in client.list_artifacts(trained.run_id, "plots")}
    assert {"roc.png", "reliability.png", "lift.png", "score_bands.png", "shap_smb.png"} <= plots
    assert (tmp_path / "store").is_dir() and not (tmp_path / "mlruns").exists()

    loaded = load_health_model(trained.model_uri)
    test = trained.outcome.split.test
    np.testing.assert_allclose(
        loaded.predict(test)["churn_probability"], trained.model.predict(test)["churn_probability"]
    )


def test_register_sets_challenger_and_evaluate_reads_reports_back(trained: TrainingResult) -> None:
    assert trained.version == "1"
    version = MlflowClient().get_model_version_by_alias(NAME, CHALLENGER)
    assert str(version.version) == "1" and version.run_id == trained.run_id
    assert evaluate(trained.run_id) == trained.report
    assert evaluate(alias=CHALLENGER) == trained.report
    assert evaluate() == trained.report
    with pytest.raises(TrackingError, match="no version of 'vitals-health' has alias 'champion'"):
        evaluate(alias=CHAMPION)


def test_promote_refuses_a_worse_model_unless_forced(
    trained: TrainingResult, snapshot_file: Path, settings: Settings
) -> None:
    first = promote()
    assert (first.version, first.previous, first.forced) == ("1", None, False)
    worse = train(features=snapshot_file, settings=weak(settings), register=True)
    assert worse.version == "2"
    assert (
        worse.report["models"]["vitals"]["overall"]["auc"]
        < (trained.report["models"]["vitals"]["overall"]["auc"])
    )
    with pytest.raises(
        PromotionRefused, match=r"version 2 is worse than champion version 1.*--force"
    ):
        promote()
    assert str(MlflowClient().get_model_version_by_alias(NAME, CHAMPION).version) == "1"
    forced = promote("2", force=True)
    assert (forced.version, forced.previous, forced.forced) == ("2", "1", True)
    assert promote("1").previous == "2"  # the better one comes back without force


def test_tuning_trials_are_child_runs(
    tracking: str, snapshot_file: Path, settings: Settings
) -> None:
    result = train(features=snapshot_file, settings=settings, trials=2, timeout_s=120)
    client = MlflowClient()
    experiment = client.get_run(result.run_id).info.experiment_id
    children = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    boosters = {c.data.tags["booster"] for c in children}
    assert boosters == {"pooled", "smb"} and len(children) == 4
    assert all("learning_rate" in c.data.params for c in children)
    assert result.report["profiles"]["smb"]["tuning"]["trials"] == 2


def test_unreachable_server_fails_fast_before_any_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, snapshot_file: Path, settings: Settings
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TrackingError, match=r"cannot reach the MLflow tracking server .* unset"):
        train(features=snapshot_file, settings=settings)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_after_fitting_registers_nothing(
    tracking: str, snapshot_file: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(train_module, "log_health_model", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        train(features=snapshot_file, settings=settings, register=True)
    client = MlflowClient()
    assert client.search_registered_models() == []
    runs = client.search_runs([client.get_experiment_by_name("vitals").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_a_failed_alias_deletes_the_new_version(
    trained: TrainingResult,
    monkeypatch: pytest.MonkeyPatch,
    snapshot_file: Path,
    settings: Settings,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise MlflowException("alias store down")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", refuse)
    with pytest.raises(TrackingError, match="cannot register 'vitals-health': alias store down"):
        train(features=snapshot_file, settings=settings, register=True)
    versions = MlflowClient().search_model_versions(f"name = '{NAME}'")
    assert [str(v.version) for v in versions] == ["1"]


def test_bad_data_is_a_training_error_and_logs_no_run(
    tracking: str, snapshot_file: Path, settings: Settings
) -> None:
    with pytest.raises(TrainingError, match="min_train_churners"):
        train(features=snapshot_file, settings=with_training(settings, min_train_churners=10**6))
    with pytest.raises(TrainingError, match=r"90-day horizon, not 30: pass --horizon 90"):
        train(features=snapshot_file, settings=settings, horizon_days=30)
    with pytest.raises(TrainingError, match="no such data directory"):
        train("does/not/exist", settings=settings)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("vitals")
    runs = [] if experiment is None else client.search_runs([experiment.experiment_id])
    assert all(r.info.status == "FAILED" for r in runs)


def test_embedded_store_is_mlruns_in_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, snapshot_file: Path, settings: Settings
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    result = train(features=snapshot_file, settings=settings)
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert [p.parent.name for p in (tmp_path / "mlruns").rglob("report.json")] == ["artifacts"]
    assert evaluate(result.run_id)["test_window"] == result.report["test_window"]


def test_importing_the_training_stage_creates_nothing(tmp_path: Path) -> None:
    code = "import vitals.training.train, vitals.cli.training"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, env=_clean_env())
    assert list(tmp_path.iterdir()) == []


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return env
