"""``POST /v1/events`` and ``GET /v1/ingest/status``: checked rows, idempotency, re-scoring."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from apikit import auth
from fastapi.testclient import TestClient

from vitals.config.settings import Settings
from vitals.features.loader import load_dataset
from vitals.models.health_model import HealthModel
from vitals.serving.api.app import create_app
from vitals.serving.api.auth import create_key
from vitals.serving.batch import LoadedModel
from vitals.serving.store import HealthRepository, HealthStore


@pytest.fixture(scope="module")
def facts(sample_dir: Path) -> dict[str, object]:
    dataset = load_dataset(sample_dir)
    ids = dataset.con.execute("SELECT account_id FROM accounts ORDER BY 1").df()["account_id"]
    last = dataset.data_end
    dataset.con.close()
    return {"accounts": list(ids), "last": pd.Timestamp(last)}


@pytest.fixture(scope="module")
def ingesting(
    sample_dir: Path, model: HealthModel, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A server with a data directory (so it ingests and re-scores), on a store of its own."""
    root = tmp_path_factory.mktemp("ingest-api")
    url = f"sqlite:///{root}/store.db"
    store = HealthStore.open(url)
    keys = {s: create_key(store, [s], f"test {s}").key for s in ("read", "ingest")}
    settings = Settings(
        database_url=url,
        serving={"model": str(model_dir)},
        ingest={"data_dir": str(sample_dir), "store_dir": str(root / "ingested")},
    )
    app = create_app(settings, model=LoadedModel(model, str(model_dir), "test-1"), store=store)
    with TestClient(app) as client:
        yield client, keys
    store.close()


def events(facts: dict[str, object], account: str, n: int = 3) -> list[dict[str, object]]:
    last = facts["last"]
    assert isinstance(last, pd.Timestamp)
    return [
        {"account_id": account, "timestamp": (last - pd.Timedelta(minutes=i)).isoformat(),
         "event_type": "login", "user_id": "u1"}
        for i in range(n)
    ]  # fmt: skip


def wait_rescored(client: TestClient, key: str, timeout: float = 120.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get("/v1/ingest/status", headers=auth(key)).json()
        if status["pending"] == 0 and status["rescored"] > 0 and status["error"] is None:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


@pytest.mark.slow
def test_valid_rows_are_kept_and_bad_ones_listed(
    ingesting: tuple[TestClient, dict[str, str]], facts: dict[str, object]
) -> None:
    client, keys = ingesting
    account = facts["accounts"][0]  # type: ignore[index]
    body = {
        "events": [
            *events(facts, account),
            {"account_id": "NOBODY", "timestamp": "2025-01-01T00:00:00", "event_type": "login"},
            {"account_id": account, "timestamp": "yesterday", "event_type": "login"},
        ],
        "tickets": [{"account_id": account, "ticket_id": "api-1",
                     "opened_at": "2025-01-02T00:00:00", "priority": "sometimes"}],
    }  # fmt: skip
    answer = client.post(
        "/v1/events", json=body, headers={**auth(keys["ingest"]), "Idempotency-Key": "a1"}
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["accepted"] == {"events": 3, "tickets": 0}
    assert not result["replayed"]
    rejected = {(r["table"], r["index"], r["rule"], r["field"]) for r in result["rejected"]}
    assert rejected == {
        ("events", 3, "unknown_account", "account_id"),
        ("events", 4, "bad_value", "timestamp"),
        ("tickets", 0, "allowed_priority", "priority"),
    }
    status = wait_rescored(client, keys["read"])
    assert status["rescored"] == result["batch"]
    with client.app.state.store.session() as session:
        assert HealthRepository(session).latest([account])

    again = client.post(
        "/v1/events", json=body, headers={**auth(keys["ingest"]), "Idempotency-Key": "a1"}
    )
    assert again.status_code == 200
    assert again.json()["replayed"] and again.json()["batch"] == result["batch"]
    other = {"events": events(facts, account, 1)}
    conflict = client.post(
        "/v1/events", json=other, headers={**auth(keys["ingest"]), "Idempotency-Key": "a1"}
    )
    assert conflict.status_code == 409
    assert "different body" in conflict.json()["detail"]


def test_malformed_batches_are_refused_whole(
    ingesting: tuple[TestClient, dict[str, str]], facts: dict[str, object]
) -> None:
    client, keys = ingesting
    headers = auth(keys["ingest"])
    unknown_table = client.post("/v1/events", json={"clicks": []}, headers=headers)
    assert unknown_table.status_code == 422
    assert unknown_table.json()["detail"][0]["loc"] == ["body", "clicks"]
    row = {**events(facts, facts["accounts"][1], 1)[0], "colour": "red"}  # type: ignore[index]
    unknown_field = client.post("/v1/events", json={"events": [row]}, headers=headers)
    assert unknown_field.status_code == 422
    assert "colour" in unknown_field.json()["detail"]
    nested = client.post("/v1/events", json={"events": [{"account_id": ["x"]}]}, headers=headers)
    assert nested.status_code == 422


def test_ingestion_needs_its_scope_and_a_data_directory(
    ingesting: tuple[TestClient, dict[str, str]], client: TestClient, keys: dict[str, str]
) -> None:
    ingest_client, ingest_keys = ingesting
    refused = ingest_client.post("/v1/events", json={}, headers=auth(ingest_keys["read"]))
    assert refused.status_code == 403
    off = client.post("/v1/events", json={}, headers=auth(keys["ingest"]))
    assert off.status_code == 404
    assert "--data" in off.json()["detail"]
