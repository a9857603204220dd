"""``vitals keys`` and ``vitals serve`` (without starting a server), metrics, and the holder."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from apikit import auth
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from vitals.cli import serving as serving_cli
from vitals.config.settings import Settings, get_settings
from vitals.models.health_model import HealthModel
from vitals.serving.api import server
from vitals.serving.api.auth import KeyVerifier
from vitals.serving.api.holder import ModelHolder, serving_model
from vitals.serving.batch import LoadedModel
from vitals.serving.store import HealthStore


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    created = runner.invoke(
        serving_cli.app,
        [
            "keys",
            "create",
            "--scope",
            "read",
            "--scope",
            "predict",
            "--name",
            "crm",
            "--database-url",
            url,
        ],
    )
    assert created.exit_code == 0, created.output
    key = next(line for line in created.stdout.splitlines() if line.startswith("vk_"))
    store = HealthStore.open(url)
    info = KeyVerifier(store).verify(key)
    assert info is not None and info.scopes == {"read", "predict"} and info.name == "crm"
    listed = runner.invoke(serving_cli.app, ["keys", "list", "--database-url", url])
    assert info.id in listed.stdout and key not in listed.stdout
    revoked = runner.invoke(serving_cli.app, ["keys", "revoke", info.id, "--database-url", url])
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert KeyVerifier(store, ttl=0).verify(key) is None
    store.close()
    bad = runner.invoke(
        serving_cli.app, ["keys", "create", "--scope", "root", "--database-url", url]
    )
    assert bad.exit_code == 1 and "unknown scope" in bad.output
    missing = runner.invoke(serving_cli.app, ["keys", "revoke", "nope", "--database-url", url])
    assert missing.exit_code == 1 and "nope" in missing.output


def test_serve_migrates_then_hands_uvicorn_a_factory_with_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path
) -> None:
    calls = []
    monkeypatch.setattr(server.uvicorn, "run", lambda target, **kw: calls.append((target, kw)))
    monkeypatch.delenv(server.SETTINGS_ENV, raising=False)
    url = f"sqlite:///{tmp_path}/served.db"
    result = CliRunner().invoke(
        serving_cli.app,
        [
            "serve",
            "--port",
            "8123",
            "--workers",
            "2",
            "--model",
            str(model_dir),
            "--database-url",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    target, options = calls[0]
    assert target == "vitals.serving.api.server:app_factory" and options["factory"] is True
    assert (options["host"], options["port"], options["workers"]) == ("127.0.0.1", 8123, 2)
    passed = json.loads(os.environ[server.SETTINGS_ENV])
    assert passed["database_url"] == url and passed["serving"]["model"] == str(model_dir)
    HealthStore.open(url, migrate=False).close()  # migrated before any worker starts
    app = server.app_factory()
    assert app.state.settings.database_url == url
    monkeypatch.delenv(server.SETTINGS_ENV)


def test_serve_with_a_configured_data_dir_rescores_in_one_process_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_dir: Path
) -> None:
    spawned = []

    @contextmanager
    def rescoring(settings: Settings) -> Iterator[None]:  # the `vitals worker` it would start
        spawned.append(settings.ingest.data_dir)
        yield

    monkeypatch.setattr(serving_cli, "_rescoring", rescoring)
    monkeypatch.setattr(server.uvicorn, "run", lambda target, **kw: None)
    monkeypatch.delenv(server.SETTINGS_ENV, raising=False)
    monkeypatch.setenv("VITALS_INGEST__DATA_DIR", str(tmp_path / "data"))  # as in vitals.toml
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path}/served.db"
    result = CliRunner().invoke(
        serving_cli.app, ["serve", "--model", str(model_dir), "--database-url", url]
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    passed = json.loads(os.environ.pop(server.SETTINGS_ENV))
    assert spawned == [str(tmp_path / "data")]
    assert passed["ingest"]["rescore_in_server"] is False  # not a second worker in the server


def test_issue_key_is_what_the_demo_calls(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/demo.db")
    new = server.issue_key(settings, ["read", "predict"], "demo")
    assert [k.id for k in server.keys_in_store(settings)] == [new.info.id]
    assert server.withdraw_key(settings, new.info.id).revoked_at is not None


def test_metrics_label_requests_by_route_template(client: TestClient, keys: dict[str, str]) -> None:
    headers = auth(keys["read"])
    client.get("/v1/accounts/A000001", headers=headers)
    client.get("/v1/accounts/A000002", headers=headers)
    client.get("/no/such/path", headers=headers)
    text = client.get("/metrics", headers=headers).text
    assert 'route="/v1/accounts/{account_id}",status="200"' in text
    assert 'route="unmatched",status="404"' in text
    assert "A000001" not in text
    assert 'vitals_http_request_duration_seconds_bucket{le="0.005",method="GET"' in text
    assert 'vitals_model_info{version="test-1"} 1.0' in text


def test_a_request_keeps_the_model_it_started_with(model: HealthModel, model_dir: Path) -> None:
    versions = iter(["v2", "v3"])
    holder = ModelHolder(
        lambda: serving_model(LoadedModel(model, str(model_dir), next(versions))),
        serving_model(LoadedModel(model, str(model_dir), "v1")),
    )
    taken = holder.current
    previous, current = holder.reload()
    assert previous is taken and taken.version == "v1" and current.version == "v2"
    assert holder.current is current and taken is not current
    assert holder.reload()[1].version == "v3"


def test_example_requests_work_against_the_app(
    client: TestClient, keys: dict[str, str], dates: list
) -> None:
    import shlex

    from vitals.serving.api.server import example_requests

    lines = example_requests("http://testserver", keys["admin"], "A000001")
    assert lines[0] == "curl http://testserver/healthz"
    for line in lines:
        words = shlex.split(line)
        headers = dict(w.split(": ", 1) for i, w in enumerate(words) if words[i - 1] == "-H")
        data = words[words.index("-d") + 1] if "-d" in words else None
        url = words[-1].removeprefix("http://testserver")
        response = client.request("POST" if data else "GET", url, headers=headers, content=data)
        assert response.status_code in (200, 404), line
