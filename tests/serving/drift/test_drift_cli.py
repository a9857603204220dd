"""The drift section of ``vitals evaluate --drift [--data DIR]`` (``vitals.cli.drift_section``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from driftkit import VERSION

from vitals.cli.drift_section import drift_section, print_drift
from vitals.config.settings import Settings
from vitals.models.health_model import HealthModel
from vitals.serving.drift import latest_calibration
from vitals.serving.store import HealthStore


def test_the_section_computes_stores_and_prints_the_report(
    store_url: str,
    drift_model: HealthModel,
    sample_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model_dir = drift_model.save(tmp_path / "model")
    settings = Settings(database_url=store_url)
    section = drift_section(str(model_dir), None, sample_dir, settings)
    json.dumps(section, allow_nan=False)
    assert section["model_version"] == VERSION and section["status"] == "ok"
    assert section["features"]["available"] and section["calibration"]["available"]
    store = HealthStore.open(store_url)
    try:
        stored = latest_calibration(store, VERSION)
    finally:
        store.close()
    assert stored is not None
    assert stored[0].to_dict()["dates"] == section["calibration"]["dates"]

    again = drift_section(str(model_dir), None, None, settings)  # the stored calibration
    assert again["calibration"]["computed_at"] == section["calibration"]["computed_at"]
    print_drift(section)
    out = capsys.readouterr().out
    assert f"drift of model {VERSION}: ok" in out
    assert "feature drift (PSI)" in out and "calibration drift" in out


def test_a_missing_store_is_one_error_and_creates_nothing(
    drift_model: HealthModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_dir = drift_model.save(tmp_path / "model")
    missing = tmp_path / "none.db"
    with pytest.raises(typer.Exit):
        drift_section(str(model_dir), None, None, Settings(database_url=f"sqlite:///{missing}"))
    assert "no health store at" in capsys.readouterr().err
    assert not missing.exists()
