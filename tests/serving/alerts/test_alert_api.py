"""``GET /v1/alerts`` (filters, cursor pages) and ``POST /v1/alerts/{id}/ack``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alertkit import VERSION, settings
from fastapi.testclient import TestClient

from vitals.config.settings import Settings
from vitals.models.health_model import HealthModel
from vitals.serving.alerts.records import NewAlert, store_alerts
from vitals.serving.api.app import create_app
from vitals.serving.api.auth import create_key
from vitals.serving.batch import LoadedModel
from vitals.serving.store import HealthStore

D0 = date(2026, 3, 1)
KINDS = ("band_drop", "score_drop", "risk_above", "parent_revenue_at_risk")


def new_alert(n: int) -> NewAlert:
    kind = KINDS[n % 4]
    return NewAlert(
        dedupe_key=f"key-{n}",
        rule=f"rule-{kind}",
        kind=kind,
        subject_kind="parent" if kind == "parent_revenue_at_risk" else "account",
        subject_id=f"S{n % 3}",
        as_of=D0 + timedelta(days=n),
        model_version=VERSION,
        severity="warning",
        message=f"alert {n}",
        details={"before": {"health_score": 80.0}, "after": {"health_score": 30.0 + n}},
    )


@pytest.fixture
def keys(store: HealthStore) -> dict[str, str]:
    return {scope: create_key(store, [scope], f"{scope} key").key for scope in ("read", "admin")}


@pytest.fixture
def client(store: HealthStore, health_model: HealthModel) -> Iterator[TestClient]:
    rules = [{"name": f"rule-{k}", "kind": "band_drop"} for k in KINDS]
    store_alerts(store, [new_alert(n) for n in range(11)], settings(*rules), datetime.now(UTC))
    app = create_app(
        Settings(database_url="sqlite://"),
        model=LoadedModel(health_model, "in-process", VERSION),
        store=store,
    )
    with TestClient(app) as opened:
        yield opened


def listed(client: TestClient, key: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/alerts", params=params, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_alerts_are_listed_newest_first_with_a_read_key(
    client: TestClient, keys: dict[str, str]
) -> None:
    assert client.get("/v1/alerts").status_code == 401
    items = listed(client, keys["read"], limit=500)
    assert [a["message"] for a in items] == [f"alert {n}" for n in reversed(range(11))]
    first = items[-1]
    assert first["kind"] == "band_drop" and first["as_of"] == "2026-03-01"
    assert first["acknowledged"] is False and first["acknowledged_by"] is None
    assert first["details"]["after"] == {"health_score": 30.0}


def test_filters_combine(client: TestClient, keys: dict[str, str]) -> None:
    read = keys["read"]

    def numbers(**params: Any) -> list[int]:
        return sorted(int(a["message"].split()[1]) for a in listed(client, read, **params))

    assert numbers(kind="risk_above") == [2, 6, 10]
    assert numbers(kind=["risk_above", "score_drop"]) == [1, 2, 5, 6, 9, 10]
    assert numbers(rule="rule-parent_revenue_at_risk") == [3, 7]
    assert numbers(subject_id="S1") == [1, 4, 7, 10]
    assert numbers(since="2026-03-09") == [8, 9, 10]
    assert numbers(subject_id="S1", since="2026-03-05", kind="parent_revenue_at_risk") == [7]
    assert numbers(acknowledged=True) == []
    assert len(numbers(acknowledged=False)) == 11
    bad = client.get("/v1/alerts", params={"kind": "moon"}, headers={"X-API-Key": read})
    assert bad.status_code == 422


def test_cursor_pages_cover_every_alert_once(client: TestClient, keys: dict[str, str]) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, "kind": ["band_drop", "score_drop", "risk_above"]}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/v1/alerts", params=params, headers={"X-API-Key": keys["read"]}).json()
        seen += [a["id"] for a in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 9 == len(set(seen)) and seen == sorted(seen, reverse=True)
    for broken in ("not-a-cursor", "eyJhIjotMX0", "eyJhIjp0cnVlfQ"):  # junk, {"a":-1}, {"a":true}
        answer = client.get(
            "/v1/alerts", params={"cursor": broken}, headers={"X-API-Key": keys["read"]}
        )
        assert answer.status_code == 422 and "cursor" in answer.text


def test_acknowledging_needs_admin_records_who_and_is_idempotent(
    client: TestClient, keys: dict[str, str]
) -> None:
    target = listed(client, keys["read"], limit=1)[0]["id"]
    path = f"/v1/alerts/{target}/ack"
    assert client.post(path, headers={"X-API-Key": keys["read"]}).status_code == 403
    first = client.post(path, headers={"X-API-Key": keys["admin"]})
    assert first.status_code == 200, first.text
    acked = first.json()
    assert acked["acknowledged"] and acked["acknowledged_by"] == "admin key"
    assert datetime.fromisoformat(acked["acknowledged_at"]).tzinfo is not None
    again = client.post(path, headers={"X-API-Key": keys["admin"]}).json()
    assert again == acked
    assert [a["id"] for a in listed(client, keys["read"], acknowledged=True)] == [target]
    assert target not in [a["id"] for a in listed(client, keys["read"], acknowledged=False)]

    missing = client.post("/v1/alerts/999999/ack", headers={"X-API-Key": keys["admin"]})
    assert missing.status_code == 404 and missing.json() == {"detail": "no alert 999999"}
    huge = client.post(f"/v1/alerts/{2**70}/ack", headers={"X-API-Key": keys["admin"]})
    assert huge.status_code == 422


def test_the_endpoints_are_documented_with_their_scopes(
    client: TestClient, keys: dict[str, str]
) -> None:
    schema = client.get("/openapi.json", headers={"X-API-Key": keys["read"]}).json()
    listing = schema["paths"]["/v1/alerts"]["get"]
    ack = schema["paths"]["/v1/alerts/{alert_id}/ack"]["post"]
    assert "`read`" in listing["description"] and "`admin`" in ack["description"]
    assert "404" in ack["responses"] and "AlertPage" in str(listing["responses"]["200"])
