"""``vitals demo`` runs end to end: data, features, a champion model, stored health."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from vitals.cli.main import app
from vitals.config.settings import get_settings

pytestmark = pytest.mark.slow


def test_demo_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("VITALS_DATABASE_URL", f"sqlite:///{tmp_path}/health.db")
    get_settings.cache_clear()
    try:
        args = ["demo", "--accounts", "600", "--months", "24", "--no-serve"]
        result = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "snapshots.parquet").exists()
    assert "is the champion" in result.output
    assert "backfilled" in result.output and "revenue at risk" in result.output

    from vitals.serving.store import HealthRepository, HealthStore

    store = HealthStore.open(f"sqlite:///{tmp_path}/health.db")
    with store.session() as session:
        repo = HealthRepository(session)
        assert len(repo.dates()) >= 26
        latest = repo.latest()
        assert latest and all(0 <= s.health_score <= 100 for s in latest)
    store.close()


def test_demo_too_short_for_training_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    result = CliRunner().invoke(app, ["demo", "--accounts", "300", "--months", "12", "--no-serve"])
    assert result.exit_code == 1
    assert "too short" in result.output and "Traceback" not in result.output
