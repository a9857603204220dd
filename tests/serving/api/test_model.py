"""The served model: what /v1/model says, and reloading the champion with no request failing."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import mlflow
import pytest
from apikit import TRAIN_WINDOWS, auth
from fastapi.testclient import TestClient
from kit import fit_model
from mlflow import MlflowClient

from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.models.mlflow_adapter import log_health_model
from vitals.serving.api.app import create_app
from vitals.serving.store import HealthStore

REPORT = {
    "test_window": {"start": "2025-10-01", "end": "2025-12-31"},
    "horizon_days": 90,
    "models": {"vitals": {"overall": {"auc": 0.81, "brier": 0.07}}},
    "comparison": {},
}


def register(snapshots: Snapshots, version: str, tmp_path: Path) -> None:
    """Fit, log and register a model (with a training report) and make it the champion."""
    model = fit_model(
        snapshots, version, rounds=10 if version.endswith("1") else 6, windows=TRAIN_WINDOWS
    )
    example = snapshots.to_pandas().head(5)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    try:
        name = "serving-api"
        experiment = mlflow.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else mlflow.create_experiment(name, artifact_location=str(tmp_path / "art"))
        )
        with mlflow.start_run(experiment_id=experiment_id) as run:
            model.metadata_["mlflow_run_id"] = run.info.run_id
            mlflow.log_dict(REPORT, "report.json")
            info = log_health_model(
                model, input_example=example, registered_model_name="vitals-health"
            )
        MlflowClient().set_registered_model_alias(
            "vitals-health", "champion", str(info.registered_model_version)
        )
    finally:
        mlflow.set_tracking_uri(None)  # this also clears MLFLOW_TRACKING_URI: set it back
        os.environ["MLFLOW_TRACKING_URI"] = uri


@pytest.fixture
def registry_client(
    snapshots: Snapshots, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An app whose lifespan loads the champion of a temporary registry (version 1)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    register(snapshots, "reg-1", tmp_path)
    store = HealthStore.open(store_url)
    with TestClient(create_app(Settings(database_url=store_url), store=store)) as client:
        yield client
    store.close()


def test_model_info_names_version_window_and_profiles(
    client: TestClient, keys: dict[str, str]
) -> None:
    info = client.get("/v1/model", headers=auth(keys["read"])).json()
    assert info["version"] == "test-1" and info["n_features"] > 50
    assert info["training_window"] == {"train": {"start": "2025-01-01", "end": "2025-09-01"}}
    assert {p["name"] for p in info["profiles"]} >= {"smb", "enterprise", "default"}
    assert all(p["band_poor"] <= p["band_good"] for p in info["profiles"])
    assert info["evaluation"] is None  # not from a training run


@pytest.mark.slow
def test_reload_swaps_to_the_new_champion_without_failing_a_request(
    registry_client: TestClient,
    keys: dict[str, str],
    snapshots: Snapshots,
    tmp_path: Path,
) -> None:
    client = registry_client
    info = client.get("/v1/model", headers=auth(keys["read"])).json()
    assert info["version"] == "vitals-health/1" and info["uri"] == "models:/vitals-health@champion"
    assert info["evaluation"]["overall"] == {"auc": 0.81, "brier": 0.07}
    register(snapshots, "reg-2", tmp_path)  # the champion moves to version 2
    rows = snapshots.to_pandas()
    ids = rows.loc[rows["as_of"] == rows["as_of"].max(), "account_id"].head(5).tolist()
    body = {"accounts": [{"account_id": a} for a in ids]}
    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            response = client.post("/v1/predict", headers=auth(keys["predict"]), json=body)
            seen.append((response.status_code, response.json().get("model_version")))

    workers = [threading.Thread(target=hammer) for _ in range(3)]
    for w in workers:
        w.start()
    reloaded = client.post("/v1/model/reload", headers=auth(keys["admin"]))
    after = len(seen)
    while len(seen) < after + 6:
        pass
    stop.set()
    for w in workers:
        w.join()
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["previous_version"] == "vitals-health/1"
    assert reloaded.json()["version"] == "vitals-health/2" and reloaded.json()["changed"]
    assert {status for status, _ in seen} == {200}
    assert {version for _, version in seen} <= {"vitals-health/1", "vitals-health/2"}
    assert seen[-1][1] == "vitals-health/2"
    metrics = client.get("/metrics", headers=auth(keys["read"])).text
    assert 'vitals_model_info{version="vitals-health/2"} 1.0' in metrics
    assert "vitals-health/1" not in metrics


def test_without_a_champion_the_app_starts_unready_and_reload_is_503(
    store_url: str, keys: dict[str, str]
) -> None:
    store = HealthStore.open(store_url)
    with TestClient(create_app(Settings(database_url=store_url), store=store)) as client:
        ready = client.get("/readyz", headers=auth(keys["read"]))
        assert ready.status_code == 503 and ready.json()["model_version"] is None
        predict = client.post(
            "/v1/predict", headers=auth(keys["predict"]), json={"accounts": [{"account_id": "a"}]}
        )
        assert predict.status_code == 503
        reload = client.post("/v1/model/reload", headers=auth(keys["admin"]))
        assert reload.status_code == 503 and "vitals-health" in reload.json()["detail"]
    store.close()


def test_a_dead_store_gives_503_never_500(model, tmp_path: Path, keys: dict[str, str]) -> None:
    from vitals.serving.store.db import create_store_engine

    dead = HealthStore(create_store_engine(f"sqlite:///{tmp_path}/missing/dir/vitals.db"))
    settings = Settings(database_url="sqlite:///unused.db")
    with TestClient(create_app(settings, model=model, store=dead)) as client:
        response = client.get("/v1/model", headers=auth(keys["read"]))
        assert response.status_code == 503 and "store" in response.json()["detail"]
