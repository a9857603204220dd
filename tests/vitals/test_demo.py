"""``vitals demo`` runs end to end: data, features, a champion model, stored health."""

from __future__ import annotations

import re

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


def test_the_demo_prints_the_console_address_and_a_key_that_signs_in(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient
    from kit import write_sample
    from rich.console import Console

    from vitals.cli import demo
    from vitals.serving.api import server
    from vitals.serving.api.app import create_app
    from vitals.serving.console.session import COOKIE

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("VITALS_DATABASE_URL", f"sqlite:///{tmp_path}/health.db")
    get_settings.cache_clear()
    served = []
    monkeypatch.setattr(server, "serve", lambda settings, **where: served.append(settings))
    console = Console(record=True, width=200)
    try:
        demo._serve(None, write_sample(tmp_path / "data", accounts=40), console)
    finally:
        get_settings.cache_clear()
    printed = console.export_text()
    url = re.search(r"CS console: (http://\S+/console), sign in with the key above", printed)
    key = re.search(r"API key \(read, [^)]*\), shown once: (\S+)", printed)
    assert url and key and served
    with TestClient(create_app(served[0])) as client:
        answer = client.post(
            "/console/login", data={"key": key.group(1), "next": "/console"}, follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        assert COOKIE in client.cookies  # signed in: the session cookie is set
