"""Training against a real ``mlflow server`` on loopback (started here, always torn down)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from trainingdata import free_port

from vitals.config.settings import Settings
from vitals.training.registry import CHALLENGER, CHAMPION
from vitals.training.train import evaluate, promote, train

pytestmark = pytest.mark.slow
_START_TIMEOUT_S = 120


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An MLflow tracking server with a SQLite store and proxied artifacts under ``tmp_path``."""
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow_cli),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        str(tmp_path / "artifacts"),
    ]
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True
    )
    try:
        _wait_until_healthy(uri, process, tmp_path / "server.log")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.chdir(tmp_path)
        yield uri
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
        log.close()


def _wait_until_healthy(uri: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"mlflow server exited with {process.returncode}: {log.read_text()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"mlflow server did not answer within {_START_TIMEOUT_S} s")


def test_train_register_promote_and_evaluate_through_a_server(
    server: str, snapshot_file: Path, settings: Settings, tmp_path: Path
) -> None:
    result = train(features=snapshot_file, settings=settings, register=True)
    assert result.version == "1"
    client = MlflowClient(tracking_uri=server)
    assert client.get_model_version_by_alias("vitals-health", CHALLENGER).run_id == result.run_id
    assert promote().version == "1"
    assert str(client.get_model_version_by_alias("vitals-health", CHAMPION).version) == "1"
    assert evaluate(alias=CHAMPION) == result.report
    assert any((tmp_path / "artifacts").rglob("report.json"))
    assert not (tmp_path / "mlruns").exists()
