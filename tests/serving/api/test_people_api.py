"""What people add: band overrides, CSM sentiment and the append-only audit log, over the API."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apikit import annotated_app, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from vitals.features.loader import load_dataset
from vitals.models.health_model import HealthModel
from vitals.serving.people import sentiment
from vitals.serving.people.audit import record
from vitals.serving.people.overrides import active_overrides, set_override
from vitals.serving.store import HealthScore


@pytest.fixture(scope="module")
def people(
    store_url: str,
    model: HealthModel,
    model_dir: Path,
    sample_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, Path]]:
    """A client of an app over a copy of the filled store, ingesting into a copy of the data."""
    folder = tmp_path_factory.mktemp("people")
    data = shutil.copytree(sample_dir, folder / "data")
    with annotated_app(store_url, model, model_dir, data, folder) as app, TestClient(app) as client:
        yield client, data


def scores_of(client: TestClient, account: str) -> list[tuple]:
    store = client.app.state.store  # type: ignore[attr-defined]
    with store.session() as session:
        rows = session.execute(
            select(HealthScore.as_of, HealthScore.health_score, HealthScore.band).where(
                HealthScore.account_id == account
            )
        ).all()
    return sorted(tuple(r) for r in rows)


def first_account(client: TestClient, key: str, band: str) -> str:
    page = client.get("/v1/accounts", headers=auth(key), params={"band": band, "limit": 1})
    return page.json()["items"][0]["account_id"]


def test_an_override_shows_everywhere_and_never_changes_the_model_score(
    people: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, _ = people
    account = first_account(client, keys["read"], "good")
    before = scores_of(client, account)
    body = {"band": "poor", "reason": "Budget freeze announced at the QBR"}
    assert (
        client.put(
            f"/v1/accounts/{account}/override", json=body, headers=auth(keys["read"])
        ).status_code
        == 403
    )
    made = client.put(f"/v1/accounts/{account}/override", json=body, headers=auth(keys["annotate"]))
    assert made.status_code == 200, made.text
    override = made.json()["override"]
    assert override["band"] == "poor" and override["author"] == "test annotate"
    expires = datetime.fromisoformat(override["expires_at"])
    created = datetime.fromisoformat(override["created_at"])
    assert expires - created == timedelta(days=30)

    detail = client.get(f"/v1/accounts/{account}", headers=auth(keys["read"])).json()
    assert detail["account"]["band"] == "good" and detail["account"]["override"]["band"] == "poor"
    listed = client.get(
        "/v1/accounts", headers=auth(keys["read"]), params={"band": "good", "limit": 500}
    ).json()["items"]
    shown = {i["account_id"]: i["override"] for i in listed}
    assert shown[account]["reason"] == body["reason"]
    assert sum(o is not None for o in shown.values()) == 1
    assert scores_of(client, account) == before

    ended = client.delete(f"/v1/accounts/{account}/override", headers=auth(keys["annotate"]))
    assert ended.status_code == 200 and ended.json()["override"] is None
    assert (
        client.delete(
            f"/v1/accounts/{account}/override", headers=auth(keys["annotate"])
        ).status_code
        == 404
    )
    detail = client.get(f"/v1/accounts/{account}", headers=auth(keys["read"])).json()
    assert detail["account"]["override"] is None and scores_of(client, account) == before


def test_an_override_ends_by_itself_at_its_expiry(people: tuple[TestClient, Path]) -> None:
    client, _ = people
    store = client.app.state.store  # type: ignore[attr-defined]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with store.session() as session:
        set_override(
            session, "A-EXPIRES", band="average", reason="r", author="t", now=start,
            expires_at=start + timedelta(days=2),
        )  # fmt: skip
        session.commit()
        assert "A-EXPIRES" in active_overrides(session, ["A-EXPIRES"], start + timedelta(days=1))
        assert active_overrides(session, ["A-EXPIRES"], start + timedelta(days=2)) == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"band": "purple", "reason": "x"}, "band"),
        ({"band": "poor", "reason": "   "}, "reason"),
        ({"band": "poor"}, "reason"),
        ({"band": "poor", "reason": "x", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"band": "poor", "reason": "x", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ],
)
def test_a_bad_override_is_a_422_naming_the_field(
    people: tuple[TestClient, Path], keys: dict[str, str], body: dict, field: str
) -> None:
    client, _ = people
    account = first_account(client, keys["read"], "average")
    answer = client.put(
        f"/v1/accounts/{account}/override", json=body, headers=auth(keys["annotate"])
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", field]


def test_an_unknown_account_is_a_422_naming_it(
    people: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, _ = people
    for method, path, body in (
        ("PUT", "/v1/accounts/NOPE/override", {"band": "poor", "reason": "x"}),
        ("GET", "/v1/accounts/NOPE/override", None),
        ("DELETE", "/v1/accounts/NOPE/override", None),
        ("POST", "/v1/accounts/NOPE/sentiment", {"rating": "red"}),
        ("GET", "/v1/accounts/NOPE/sentiment", None),
    ):
        key = keys["read"] if method == "GET" else keys["annotate"]
        answer = client.request(method, path, json=body, headers=auth(key))
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["path", "account_id"]


def test_a_rating_joins_the_data_and_a_bad_one_is_refused(
    people: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, data = people
    account = first_account(client, keys["read"], "poor")
    bad = client.post(
        f"/v1/accounts/{account}/sentiment",
        json={"rating": "purple"},
        headers=auth(keys["annotate"]),
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "rating"]
    body = {"rating": "red", "note": "Champion left in May"}
    made = client.post(
        f"/v1/accounts/{account}/sentiment", json=body, headers=auth(keys["annotate"])
    )
    assert made.status_code == 201, made.text
    listed = client.get(f"/v1/accounts/{account}/sentiment", headers=auth(keys["read"])).json()
    assert (
        listed["items"][0]["note"] == body["note"]
        and listed["items"][0]["author"] == "test annotate"
    )
    dataset = load_dataset(data)  # the same table as the customer's own ratings
    found = dataset.con.execute(
        "SELECT rating, author FROM sentiment WHERE account_id = ? AND note = ?",
        [account, body["note"]],
    ).fetchall()
    assert found == [("red", "test annotate")]
    dataset.con.close()


def test_a_rating_audited_before_a_crash_is_stored_once_when_the_server_restarts(
    people: tuple[TestClient, Path], keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, data = people
    state = client.app.state  # type: ignore[attr-defined]
    account = first_account(client, keys["read"], "good")
    note = "Renewal call went badly"

    def crash(*_: object) -> bool:
        raise SystemExit("the process died between the audit log and the data")

    with monkeypatch.context() as patched:
        patched.setattr(sentiment, "_ingest", crash)
        with pytest.raises(SystemExit):
            sentiment.add_sentiment(
                state.ingestor, state.store, account, rating="red", note=note,
                author="csm", now=datetime.now(UTC),
            )  # fmt: skip

    def kept() -> int:
        dataset = load_dataset(data)
        try:
            query = "SELECT count(*) FROM sentiment WHERE account_id = ? AND note = ?"
            return dataset.con.execute(query, [account, note]).fetchone()[0]
        finally:
            dataset.con.close()

    assert kept() == 0
    assert sentiment.redeliver_ratings(state.ingestor, state.store) == 1
    assert kept() == 1
    assert sentiment.redeliver_ratings(state.ingestor, state.store) == 0  # counted once
    assert kept() == 1
    audited = client.get(
        "/v1/audit", headers=auth(keys["admin"]), params={"account": account}
    ).json()["items"]
    assert [e["after"]["note"] for e in audited if e["action"] == "sentiment.create"] == [note]


def test_a_rating_not_stored_is_a_503_that_says_it_is_audited_and_stored_later(
    people: tuple[TestClient, Path], keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = people
    account = first_account(client, keys["read"], "good")

    def disk_full(*_: object) -> bool:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sentiment, "_ingest", disk_full)
    answer = client.post(
        f"/v1/accounts/{account}/sentiment",
        json={"rating": "yellow", "note": "disk full"},
        headers=auth(keys["annotate"]),
    )
    assert answer.status_code == 503 and "do not send it again" in answer.json()["detail"]
    monkeypatch.undo()
    state = client.app.state  # type: ignore[attr-defined]
    assert sentiment.redeliver_ratings(state.ingestor, state.store) == 1


def test_a_rating_the_data_now_refuses_never_stops_the_server_from_starting(
    people: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = people
    state = client.app.state  # type: ignore[attr-defined]
    row = {"account_id": "GONE", "recorded_at": "2026-01-01T00:00:00+00:00", "rating": "red",
           "author": "csm", "note": None}  # fmt: skip
    with state.store.session() as session:  # audited for an account since removed from the data
        record(
            session, at=datetime.now(UTC), actor="csm", action="sentiment.create",
            account_id="GONE", before=None, after={**row, "ingest_key": "sentiment-gone"},
        )  # fmt: skip
        session.commit()
    with caplog.at_level(logging.WARNING):
        assert sentiment.redeliver_ratings(state.ingestor, state.store) == 0
    assert "cannot be stored" in caplog.text and "GONE" in caplog.text


def test_the_audit_log_lists_an_expiry_as_its_own_entry(
    people: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, _ = people
    account = first_account(client, keys["read"], "poor")
    store = client.app.state.store  # type: ignore[attr-defined]
    start = datetime.now(UTC) - timedelta(days=3)
    with store.session() as session:
        set_override(
            session, account, band="good", reason="r", author="ann", now=start,
            expires_at=start + timedelta(days=1),
        )  # fmt: skip
        session.commit()
    page = client.get("/v1/audit", headers=auth(keys["admin"]), params={"account": account})
    ends = [(e["action"], e["actor"]) for e in page.json()["items"] if e["before"]]
    assert ends == [("override.expire", "vitals (expiry)")]


def test_the_audit_log_records_every_change_and_cannot_be_altered(
    people: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, _ = people
    account = first_account(client, keys["read"], "average")
    since = datetime.now(UTC).isoformat()
    put = lambda band: client.put(  # noqa: E731
        f"/v1/accounts/{account}/override",
        json={"band": band, "reason": f"to {band}"},
        headers=auth(keys["annotate"]),
    )
    put("poor"), put("good")
    client.delete(f"/v1/accounts/{account}/override", headers=auth(keys["annotate"]))
    client.post(
        f"/v1/accounts/{account}/sentiment",
        json={"rating": "yellow"},
        headers=auth(keys["annotate"]),
    )
    assert client.get("/v1/audit", headers=auth(keys["read"])).status_code == 403
    page = client.get(
        "/v1/audit", headers=auth(keys["admin"]), params={"account": account, "since": since}
    ).json()
    actions = [
        (e["action"], (e["before"] or {}).get("band"), (e["after"] or {}).get("band"))
        for e in page["items"]
    ]
    assert actions == [
        ("override.create", None, "poor"),
        ("override.change", "poor", "good"),
        ("override.end", "good", None),
        ("sentiment.create", None, None),
    ]
    assert all(e["actor"] == "test annotate" for e in page["items"])
    first = client.get(
        "/v1/audit", headers=auth(keys["admin"]), params={"account": account, "limit": 1}
    ).json()
    assert first["items"][0]["id"] == page["items"][0]["id"] and first["next_after"] is not None
    schema = client.get("/openapi.json", headers=auth(keys["read"])).json()
    for path, methods in schema["paths"].items():
        if "audit" in path:
            assert set(methods) == {"get"}, path
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert client.request(method, "/v1/audit", headers=auth(keys["admin"])).status_code == 405


def test_the_account_endpoint_suggests_next_steps_for_its_reasons(
    people: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, _ = people
    poor = client.get(
        "/v1/accounts", headers=auth(keys["read"]), params={"band": "poor", "limit": 20}
    ).json()["items"]
    assert poor  # the sample has poor accounts
    suggested = 0
    for item in poor:
        account = client.get(f"/v1/accounts/{item['account_id']}", headers=auth(keys["read"]))
        detail = account.json()["account"]
        features = {r["feature"] for r in detail["reasons"]} | {
            part["feature"] for r in detail["reasons"] for part in r["breakdown"]
        }
        for step in detail["next_steps"]:
            assert step["action"] and step["reasons"]
            assert {t["matched_feature"] for t in step["reasons"]} <= features
        suggested += bool(detail["next_steps"])
        assert len(detail["next_steps"]) <= 3
    assert suggested >= 0.8 * len(poor)


def test_an_expiry_with_an_offset_is_kept_as_the_same_moment(
    people: tuple[TestClient, Path], keys: dict[str, str]
) -> None:
    client, _ = people
    account = first_account(client, keys["read"], "good")
    body = {"band": "average", "reason": "r", "expires_at": "2030-01-01T05:00:00+05:00"}
    made = client.put(f"/v1/accounts/{account}/override", json=body, headers=auth(keys["annotate"]))
    assert made.status_code == 200, made.text
    kept = datetime.fromisoformat(made.json()["override"]["expires_at"])
    assert kept == datetime(2030, 1, 1, tzinfo=UTC)
    client.delete(f"/v1/accounts/{account}/override", headers=auth(keys["annotate"]))
