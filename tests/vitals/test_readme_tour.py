"""The README's command tour, as a new user runs it: one new process per command, in a fresh
folder, with no ``MLFLOW_*`` or ``VITALS_*`` variable set, then the API over real HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from processes import VITALS, clean_env, created_key, printed_until, run_vitals, serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def toured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder after the README tour up to ``keys create``; yields it and the new key."""
    folder = tmp_path_factory.mktemp("tour")
    run_vitals(
        folder, "simulate", "--accounts", "400", "--months", "24", "--seed", "7", "--out", "data/"
    )
    run_vitals(folder, "validate", "data/")
    run_vitals(folder, "features", "data/", "--out", "snapshots.parquet", "--every", "1mo")
    run_vitals(folder, "train", "data/", "--register")
    run_vitals(folder, "promote")
    run_vitals(folder, "evaluate", "--json")
    run_vitals(folder, "backfill", "data/", "--days", "60", "--every", "30d")
    run_vitals(folder, "score", "data/")
    created = run_vitals(folder, "keys", "create", "--scope", "read", "--scope", "predict")
    key = created_key(created)
    yield folder, key


@pytest.fixture(scope="module")
def server(toured: tuple[Path, str]) -> Iterator[httpx.Client]:
    """``vitals serve`` in its own process, and an HTTP client with the tour's key."""
    folder, key = toured
    with serving(folder, key) as client:
        yield client


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
    # whether and when: the curve, its context in words, and what drives the risk (timing too)
    assert [p["days"] for p in detail["account"]["curve"]] == [30, 90, 180, 365]
    assert detail["account"]["risk_context"] and detail["risk_reasons"]
    assert all("of risk" in r["sentence"] for r in detail["risk_reasons"])
    assert [p["days"] for p in result["curve"]] == [30, 90, 180, 365]
    change = detail["change"]
    if change["explained"]:
        shares = sum(r["risk_points"] for r in change["risk_reasons"])
        assert shares == pytest.approx(change["risk_change"], abs=1e-6)

    accounts = pd.read_parquet(folder / "data" / "accounts.parquet")
    parent = accounts["parent_id"].dropna().iloc[0]
    tree = server.get(f"/v1/accounts/{parent}/hierarchy").json()
    assert tree["account_id"] == parent
    assert tree["nodes"][0]["rollup"]["n_accounts"] >= 1 and len(tree["nodes"]) >= 2

    printed = run_vitals(folder, "account", parent, "--since", "30", "--json")
    from_cli = json.loads(printed)
    from_api = server.get(f"/v1/accounts/{parent}", params={"since": "30d"}).json()
    assert from_cli["parent_change"] == from_api["parent_change"]
    children = from_cli["parent_change"]["children"]
    total = sum(c["health_points"] for c in children)
    assert total == pytest.approx(from_cli["parent_change"]["health_change"] or 0.0, abs=1e-9)


def test_the_console_signs_in_and_shows_the_worklist_model_and_an_account(
    toured: tuple[Path, str], server: httpx.Client
) -> None:
    _, key = toured
    browser = httpx.Client(base_url=server.base_url)  # no key header: a person's browser
    assert browser.get("/console").status_code == 303
    signed = browser.post("/console/login", data={"key": key, "next": "/console/model"})
    assert signed.status_code == 303 and signed.headers["location"] == "/console/model"
    model = browser.get("/console/model")
    assert model.status_code == 200 and "vitals-health/1" in model.text
    assert '<img src="/console/model/plots/roc.png"' in model.text  # from the MLflow run
    assert browser.get("/console/model/plots/roc.png").headers["content-type"] == "image/png"
    worklist = browser.get("/console")
    first = worklist.text.split('<th scope="row"><a href="/console/accounts/')[1].split('"')[0]
    account = browser.get(f"/console/accounts/{first}")
    assert account.status_code == 200 and "Why the score is" in account.text
    assert browser.get("/console/static/vendor/htmx-2.0.11.min.js").status_code == 200
    browser.close()


def test_real_time_commands_ingest_rescore_and_report_drift(toured: tuple[Path, str]) -> None:
    """Last: it adds rows to the tour's data (``vitals ingest``, ``vitals worker --once``,
    ``vitals serve --data``), then ``vitals evaluate --drift --data``."""
    folder, _ = toured
    key = created_key(run_vitals(folder, "keys", "create", "--scope", "ingest", "--scope", "read"))
    accounts = pd.read_parquet(folder / "data" / "accounts.parquet")["account_id"]
    last = pd.read_parquet(folder / "data" / "events.parquet")["timestamp"].max()
    row = {"account_id": accounts.iloc[0], "event_type": "login", "user_id": "u1"}
    stamp = lambda minutes: (last - pd.Timedelta(minutes=minutes)).isoformat()  # noqa: E731
    (folder / "new-rows.json").write_text(
        json.dumps({"events": [{**row, "timestamp": stamp(1)}, {**row, "timestamp": "late"}]})
    )
    ingested = run_vitals(folder, "ingest", "new-rows.json", "--data", "data/")
    assert "batch 1 committed" in ingested
    assert "re-scored" in run_vitals(folder, "worker", "--data", "data/", "--once")

    with serving(folder, key, "--data", "data/") as client:
        body = {"events": [{**row, "account_id": accounts.iloc[1], "timestamp": stamp(2)}]}
        answer = client.post("/v1/events", json=body, headers={"Idempotency-Key": "tour-1"})
        assert answer.status_code == 200, answer.text
        batch = answer.json()["batch"]
        assert batch == 2 and answer.json()["accepted"] == {"events": 1}
        for _ in range(240):
            status = client.get("/v1/ingest/status").json()
            if status["rescored"] >= batch:
                break
            time.sleep(0.5)
        assert status["rescored"] >= batch and status["error"] is None, status

    report = json.loads(run_vitals(folder, "evaluate", "--drift", "--data", "data/", "--json"))
    assert "drift" in report


def test_the_worker_stops_when_terminations_come_together(toured: tuple[Path, str]) -> None:
    """``vitals serve --data`` ends its worker with a SIGTERM, and the kernel sends another when
    the server exits: a burst of them must stop ``vitals worker``, cleanly, not leave it running."""
    folder, _ = toured
    log = folder / "worker.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [VITALS, "worker", "--data", "data/"],
            cwd=folder,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert "as rows arrive" in printed_until(process, log, "as rows arrive", seconds=120)
        # while its first step runs: a signal handled in the middle of handling another one
        until = time.monotonic() + 3
        while time.monotonic() < until and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            time.sleep(0.0001)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
