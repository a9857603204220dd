"""The README's command tour, as a new user runs it: one new process per command, in a fresh
folder, with no ``MLFLOW_*`` or ``VITALS_*`` variable set, then the API over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

VITALS = str(Path(sys.executable).with_name("vitals"))


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "VITALS_"))}


def _run(folder: Path, *args: str) -> str:
    done = subprocess.run(
        [VITALS, *args], cwd=folder, env=_clean_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"vitals {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def toured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder after the README tour up to ``keys create``; yields it and the new key."""
    folder = tmp_path_factory.mktemp("tour")
    _run(folder, "simulate", "--accounts", "400", "--months", "24", "--seed", "7", "--out", "data/")
    _run(folder, "validate", "data/")
    _run(folder, "features", "data/", "--out", "snapshots.parquet", "--every", "1mo")
    _run(folder, "train", "data/", "--register")
    _run(folder, "promote")
    _run(folder, "evaluate", "--json")
    _run(folder, "backfill", "data/", "--days", "60", "--every", "30d")
    _run(folder, "score", "data/")
    created = _run(folder, "keys", "create", "--scope", "read", "--scope", "predict")
    key = next(line.strip() for line in created.splitlines() if line.strip().startswith("vk_"))
    yield folder, key


@pytest.fixture(scope="module")
def server(toured: tuple[Path, str]) -> Iterator[httpx.Client]:
    """``vitals serve`` in its own process, and an HTTP client with the tour's key."""
    folder, key = toured
    port = _free_port()
    process = subprocess.Popen(
        [VITALS, "serve", "--port", str(port)],
        cwd=folder,
        env=_clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.get("/readyz").json().get("status") == "ready":
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert client.get("/readyz").json()["status"] == "ready"
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)


def test_every_command_finds_the_store_and_creates_no_stray_one(
    toured: tuple[Path, str], server: httpx.Client
) -> None:
    folder, _ = toured
    assert (folder / "mlruns" / "mlflow.db").is_file()
    assert not (folder / "mlflow.db").exists()
    assert server.get("/v1/model").json()["version"] == "vitals-health/1"


def test_the_api_answers_from_the_stored_health(
    toured: tuple[Path, str], server: httpx.Client
) -> None:
    folder, _ = toured
    worklist = server.get("/v1/accounts", params={"limit": 5}).json()
    assert len(worklist["items"]) == 5
    account = worklist["items"][0]["account_id"]

    predicted = server.post("/v1/predict", json={"accounts": [{"account_id": account}]})
    assert predicted.status_code == 200, predicted.text
    [result] = predicted.json()["results"]
    assert result["account_id"] == account and 0 <= result["churn_probability"] <= 1

    detail = server.get(f"/v1/accounts/{account}", params={"since": "30d"}).json()
    assert detail["account"]["account_id"] == account and len(detail["history"]) >= 2
    assert detail["change"]["reference_date"] is not None

    accounts = pd.read_parquet(folder / "data" / "accounts.parquet")
    parent = accounts["parent_id"].dropna().iloc[0]
    tree = server.get(f"/v1/accounts/{parent}/hierarchy").json()
    assert tree["account_id"] == parent
    assert tree["nodes"][0]["rollup"]["n_accounts"] >= 1 and len(tree["nodes"]) >= 2
