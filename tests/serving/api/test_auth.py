"""API keys: stored hashed, scoped, revocable; nothing but /healthz is served without one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from apikit import auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from vitals.config.settings import Settings
from vitals.models.health_model import HealthModel
from vitals.serving.api.app import create_app
from vitals.serving.api.auth import ApiKey, KeyVerifier, create_key, hash_key, list_keys, revoke_key
from vitals.serving.store import HealthStore

ENDPOINTS = [
    ("GET", "/readyz", None),
    ("GET", "/metrics", None),
    ("GET", "/openapi.json", None),
    ("GET", "/v1/model", "read"),
    ("POST", "/v1/model/reload", "admin"),
    ("POST", "/v1/predict", "predict"),
    ("GET", "/v1/accounts", "read"),
    ("GET", "/v1/accounts/A000001", "read"),
    ("GET", "/v1/accounts/A000001/hierarchy", "read"),
]


@pytest.fixture
def store(tmp_path: Path):
    opened = HealthStore.open(f"sqlite:///{tmp_path}/keys.db")
    yield opened
    opened.close()


def test_keys_are_stored_as_hashes_only(store: HealthStore) -> None:
    new = create_key(store, ["read", "predict"], "crm")
    with store.session() as session:
        row = session.scalars(select(ApiKey)).one()
    assert new.key.startswith(f"vk_{new.info.id}_") and len(new.key) > 40
    assert row.key_hash == hash_key(new.key) and new.key not in (row.key_hash, row.id)
    assert row.scopes == "read,predict" and row.name == "crm"
    assert [k.id for k in list_keys(store)] == [new.info.id]


def test_bad_scopes_are_refused(store: HealthStore) -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        create_key(store, ["read", "root"])
    with pytest.raises(ValueError, match="at least one"):
        create_key(store, [])
    with pytest.raises(KeyError):
        revoke_key(store, "missing")


def test_verifier_caches_answers_until_they_expire(store: HealthStore) -> None:
    new = create_key(store, ["read"])
    verifier = KeyVerifier(store, ttl=0.2)
    assert verifier.cached(new.key) == (False, None)
    assert verifier.verify(new.key).scopes == {"read"}
    assert verifier.cached(new.key)[0]
    revoke_key(store, new.info.id)  # as another process would
    assert verifier.verify(new.key) is not None  # still trusted from the cache
    time.sleep(0.25)
    assert verifier.verify(new.key) is None
    assert verifier.verify("vk_nope_nope") is None


def test_admin_grants_every_scope(store: HealthStore) -> None:
    info = create_key(store, ["admin"]).info
    assert all(info.allows(s) for s in ("read", "predict", "ingest", "admin"))
    reader = create_key(store, ["read"]).info
    assert reader.allows("read") and not reader.allows("predict")


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_but_healthz_needs_a_valid_key(
    client: TestClient, keys: dict[str, str], method: str, path: str, scope: str | None
) -> None:
    missing = client.request(method, path)
    assert missing.status_code == 401, missing.text
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert client.request(method, path, headers=auth("vk_bad_key")).status_code == 401
    bearer = client.request(method, path, headers={"Authorization": "Bearer vk_bad_key"})
    assert bearer.status_code == 401 and "detail" in bearer.json()
    if scope is not None:
        wrong = next(s for s in ("ingest", "predict", "read") if s != scope)
        forbidden = client.request(method, path, headers=auth(keys[wrong]))
        assert forbidden.status_code == 403, forbidden.text
        assert scope in forbidden.json()["detail"]


def test_healthz_is_the_only_anonymous_route(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    unknown = client.get("/docs")  # no interactive docs: the schema needs a key
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}
    ok = client.get("/v1/model", headers={"Authorization": f"Bearer {keys['read']}"})
    assert ok.status_code == 200


def test_a_revoked_key_is_refused_once_the_cache_forgets_it(
    store_url: str, model: HealthModel
) -> None:
    store = HealthStore.open(store_url)
    new = create_key(store, ["read"])
    settings = Settings(database_url=store_url, serving={"key_cache_seconds": 0})
    with TestClient(create_app(settings, model=model, store=store)) as fresh:
        assert fresh.get("/v1/model", headers=auth(new.key)).status_code == 200
        revoke_key(store, new.info.id)
        assert fresh.get("/v1/model", headers=auth(new.key)).status_code == 401
    store.close()


def test_the_schema_documents_keys_scopes_and_examples(
    client: TestClient, keys: dict[str, str]
) -> None:
    schema = client.get("/openapi.json", headers=auth(keys["read"])).json()
    assert set(schema["components"]["securitySchemes"]) == {"ApiKeyHeader", "Bearer"}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if path == "/healthz":
                assert "security" not in operation
                continue
            assert operation["security"] == [{"ApiKeyHeader": []}, {"Bearer": []}], path
            assert "401" in operation["responses"], path
    predict = schema["paths"]["/v1/predict"]["post"]
    assert "scope `predict`" in predict["description"]
    schemas = schema["components"]["schemas"]
    assert schemas["PredictRequest"]["examples"] and schemas["PredictResponse"]["examples"]
    assert client.get("/openapi.json", headers=auth(keys["predict"])).status_code == 403
