"""``GET /v1/model/drift`` and the drift gauges of ``/metrics``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pandas as pd
import pytest
from driftkit import VERSION, shifted, widest_numeric
from fastapi.testclient import TestClient

from vitals.config.drift import DriftSettings
from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.models.health_model import HealthModel
from vitals.serving.api.app import create_app
from vitals.serving.api.auth import create_key
from vitals.serving.batch import LoadedModel
from vitals.serving.drift import assess_drift, save_report
from vitals.serving.store import HealthStore
from vitals.serving.store.features_table import write_latest_features

Client = Callable[..., Any]


@pytest.fixture
def serve(store: HealthStore, store_url: str) -> Client:
    """Opens a client of an app serving a model over the store, with a read key's headers."""

    @contextmanager
    def opened(
        model: HealthModel, version: str = VERSION, **drift: Any
    ) -> Iterator[tuple[TestClient, dict[str, str]]]:
        settings = Settings(database_url=store_url, drift=drift)
        served = LoadedModel(model, "in-process", version)
        key = create_key(store, ["read"], "drift test").key
        with TestClient(create_app(settings, model=served, store=store)) as client:
            yield client, {"X-API-Key": key}

    return opened


def test_a_shifted_store_is_reported_with_warnings_and_gauges(
    serve: Client,
    store: HealthStore,
    drift_model: HealthModel,
    frames: dict[date, pd.DataFrame],
    caplog: pytest.LogCaptureFixture,
) -> None:
    feature, newest = widest_numeric(drift_model), max(frames)
    write_latest_features(store, shifted(frames[newest], feature), newest, VERSION)
    with serve(drift_model) as (client, headers), caplog.at_level(logging.WARNING):
        answer = client.get("/v1/model/drift", headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model_version"] == VERSION and body["status"] == "alert"
        assert len(body["warnings"]) == 1 and feature in body["warnings"][0]
        section = body["features"]
        assert section["available"] and section["as_of"] == newest.isoformat()
        first = section["features"][0]
        assert (first["feature"], first["status"], first["bins"]) == (feature, "alert", None)
        assert all(f["psi"] == 0.0 for f in section["features"][1:])
        assert not body["calibration"]["available"]
        assert "vitals evaluate --drift --data" in body["calibration"]["reason"]
        assert body["limits"]["psi_alert"] == DriftSettings().psi_alert

        detailed = client.get("/v1/model/drift", params={"bins": True}, headers=headers).json()
        bins = detailed["features"]["features"][0]["bins"]
        assert sum(b["expected"] for b in bins) == pytest.approx(1.0)
        assert [b["actual"] for b in bins][-2] == pytest.approx(1.0)

        metrics = client.get("/metrics", headers=headers).text
    assert f'vitals_feature_psi{{feature="{feature}"}} {first["psi"]}' in metrics
    logged = [r for r in caplog.records if r.name.startswith("vitals.serving.drift")]
    assert len(logged) == 1 and body["warnings"][0] in logged[0].getMessage()  # once, not twice


def test_the_stored_calibration_drift_is_served_and_exported(
    serve: Client, store: HealthStore, drift_model: HealthModel, sample_snapshots: Snapshots
) -> None:
    report = assess_drift(store, drift_model, VERSION, DriftSettings(), source=sample_snapshots)
    save_report(store, report)
    with serve(drift_model, calibration_gap=1e-9, min_calibration_rows=1) as (client, headers):
        body = client.get("/v1/model/drift", headers=headers).json()
        metrics = client.get("/metrics", headers=headers).text
    calibration = body["calibration"]
    assert calibration["available"] and calibration["computed_at"] is not None
    assert calibration["overall"]["count"] == report.calibration.overall.count
    assert set(calibration["profiles"]) == set(report.calibration.profiles)
    assert all(p["status"] == "warning" for p in calibration["profiles"].values())
    assert body["status"] == "warning"
    assert any(w.startswith("calibration of all profiles:") for w in body["warnings"])
    gap = report.calibration.overall.gap
    assert f'vitals_calibration_gap{{profile="all"}} {gap}' in metrics


def test_an_old_model_is_reported_as_unavailable(serve: Client, health_model: HealthModel) -> None:
    with serve(health_model, version="test-1") as (client, headers):
        body = client.get("/v1/model/drift", headers=headers).json()
    assert body["status"] == "unavailable" and body["warnings"] == []
    assert not body["features"]["available"] and body["features"]["features"] == []
    assert "retrain it" in body["features"]["reason"]


def test_without_a_cache_a_new_scoring_window_is_seen_at_once(
    serve: Client,
    store: HealthStore,
    drift_model: HealthModel,
    frames: dict[date, pd.DataFrame],
) -> None:
    feature, newest = widest_numeric(drift_model), max(frames)
    with serve(drift_model, cache_seconds=0) as (client, headers):
        assert client.get("/v1/model/drift", headers=headers).json()["status"] == "ok"
        write_latest_features(store, shifted(frames[newest], feature), newest, VERSION)
        assert client.get("/v1/model/drift", headers=headers).json()["status"] == "alert"
        assert client.get("/v1/model/drift").status_code == 401
