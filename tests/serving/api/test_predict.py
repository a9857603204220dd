"""POST /v1/predict: raw features or stored ones, per-account failures, and clear 4xx errors."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from apikit import auth
from fastapi.testclient import TestClient

from vitals.features.build import LABEL_COLUMNS, Snapshots, build_features
from vitals.features.loader import load_dataset
from vitals.models.health_model import HealthModel
from vitals.serving.api.predict_schemas import PredictResponse


@pytest.fixture(scope="module")
def latest(sample_dir, dates: list[date], model: HealthModel) -> pd.DataFrame:
    """The snapshots of the latest scored date, as the store's vectors were built."""
    dataset = load_dataset(sample_dir)
    frame = build_features(dataset, [dates[-1]], vocabulary=model.feature_set_.vocabulary)
    dataset.con.close()
    return frame.to_pandas()


def features(row: pd.Series) -> dict:
    out = row.drop(["account_id", "as_of", *LABEL_COLUMNS]).to_dict()
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in out.items()}


def post(client: TestClient, key: str, body: object, **params: object):
    return client.post("/v1/predict", headers=auth(key), json=body, params=params)


def test_raw_features_and_stored_ids_give_the_models_scores(
    client: TestClient, keys: dict[str, str], latest: pd.DataFrame, model: HealthModel
) -> None:
    rows = latest.head(3)
    body = {
        "accounts": [
            {"account_id": rows["account_id"][0], "features": features(rows.iloc[0])},
            {"account_id": rows["account_id"][1]},
            {"account_id": "no-such-account"},
            {"account_id": rows["account_id"][2], "features": features(rows.iloc[2])},
        ]
    }
    response = post(client, keys["predict"], body, reasons=3)
    assert response.status_code == 200
    parsed = PredictResponse.model_validate_json(response.content)
    assert parsed.model_version == "test-1"
    got = parsed.results
    assert [r.account_id for r in got] == [a["account_id"] for a in body["accounts"]]
    assert [r.status for r in got] == [200, 200, 404, 200]
    assert [r.source for r in got] == ["request", "stored", None, "request"]
    assert got[1].features_as_of == latest["as_of"].iloc[0]
    assert "no stored features" in got[2].error and got[2].health_score is None
    expected = model.explain(rows, top_k=3)
    scored = [got[0], got[1], got[3]]
    np.testing.assert_array_equal(
        [r.churn_probability for r in scored], expected.scores["churn_probability"]
    )
    assert [r.band for r in scored] == list(expected.scores["band"])
    assert [x.feature for x in got[0].reasons] == list(
        expected.reasons.loc[expected.reasons["account_id"] == rows["account_id"][0], "feature"]
    )
    assert all(len(r.reasons) <= 3 for r in scored)


def test_zero_reasons_and_the_reason_limit(
    client: TestClient, keys: dict[str, str], latest: pd.DataFrame
) -> None:
    body = {"accounts": [{"account_id": latest["account_id"][0]}]}
    assert post(client, keys["predict"], body, reasons=0).json()["results"][0]["reasons"] == []
    for bad in (-1, 21, "five"):
        response = post(client, keys["predict"], body, reasons=bad)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "reasons"]


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422_with_their_path(
    client: TestClient, keys: dict[str, str], latest: pd.DataFrame, bad: str
) -> None:
    values = features(latest.iloc[0])
    text = json.dumps({"accounts": [{"account_id": "x", "features": values}]})
    text = text.replace('"logins_30d": ', f'"logins_30d": {bad}, "ignored": ', 1)
    response = client.post(
        "/v1/predict",
        headers={**auth(keys["predict"]), "Content-Type": "application/json"},
        content=text,
    )
    assert response.status_code == 422
    locs = [e["loc"][:5] for e in response.json()["detail"]]
    assert ["body", "accounts", 0, "features", "logins_30d"] in locs


def test_features_the_model_cannot_read_are_422_with_each_path(
    client: TestClient, keys: dict[str, str], latest: pd.DataFrame, model: HealthModel
) -> None:
    good = features(latest.iloc[0])
    missing = {k: v for k, v in good.items() if k != "tenure_days"}
    categorical = next(n for n in model.feature_names_ if model.catalog_[n].kind == "categorical")
    body = {
        "accounts": [
            {"account_id": "ok", "features": good},
            {"account_id": "a", "features": missing},
            {"account_id": "b", "features": {**good, "logins_30d": "many", categorical: 7}},
        ]
    }
    response = post(client, keys["predict"], body)
    assert response.status_code == 422
    locs = {tuple(e["loc"]): e["type"] for e in response.json()["detail"]}
    assert locs == {
        ("body", "accounts", 1, "features", "tenure_days"): "missing",
        ("body", "accounts", 2, "features", "logins_30d"): "float_type",
        ("body", "accounts", 2, "features", categorical): "string_type",
    }


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, ["body", "accounts"]),
        ({"accounts": []}, ["body", "accounts"]),
        ({"accounts": [{"account_id": ""}]}, ["body", "accounts", 0, "account_id"]),
        ({"accounts": [{"id": "x"}]}, ["body", "accounts", 0, "account_id"]),
        (
            {"accounts": [{"account_id": "x", "features": {"a": [1]}}]},
            ["body", "accounts", 0, "features", "a"],
        ),
        (
            {"accounts": [{"account_id": "x", "features": {"a": True}}]},
            ["body", "accounts", 0, "features", "a"],
        ),
        ({"accounts": [{"account_id": "x"}], "extra": 1}, ["body", "extra"]),
    ],
)
def test_malformed_bodies_are_422_with_the_path(
    client: TestClient, keys: dict[str, str], body: dict, where: list
) -> None:
    response = post(client, keys["predict"], body)
    assert response.status_code == 422, response.text
    assert where in [e["loc"][: len(where)] for e in response.json()["detail"]]


def test_invalid_json_and_wrong_content_type_are_422(
    client: TestClient, keys: dict[str, str]
) -> None:
    headers = {**auth(keys["predict"]), "Content-Type": "application/json"}
    broken = client.post("/v1/predict", headers=headers, content=b'{"accounts": [')
    assert broken.status_code == 422 and broken.json()["detail"][0]["type"] == "json_invalid"
    text = client.post(
        "/v1/predict",
        headers={**headers, "Content-Type": "text/plain"},
        content=b'{"accounts": [{"account_id": "x"}]}',
    )
    assert text.status_code == 422


def test_too_many_accounts_and_oversized_bodies(
    store_url: str, model: HealthModel, keys: dict[str, str]
) -> None:
    from vitals.config.settings import Settings
    from vitals.serving.api.app import create_app
    from vitals.serving.store import HealthStore

    store = HealthStore.open(store_url)
    settings = Settings(database_url=store_url, serving={"max_batch": 3, "max_body_bytes": 4096})
    with TestClient(create_app(settings, model=model, store=store)) as small:
        many = {"accounts": [{"account_id": f"a{i}"} for i in range(4)]}
        too_many = post(small, keys["predict"], many)
        assert too_many.status_code == 422
        assert too_many.json()["detail"][0]["loc"] == ["body", "accounts"]
        huge = {"accounts": [{"account_id": "x" * 100} for _ in range(60)]}
        too_big = post(small, keys["predict"], huge)
        assert too_big.status_code == 413 and "detail" in too_big.json()
    store.close()


def test_stored_features_that_do_not_fit_the_model_are_409(
    client: TestClient, keys: dict[str, str], store_url: str, snapshots: Snapshots
) -> None:
    from vitals.serving.store import HealthStore
    from vitals.serving.store.features_table import write_latest_features

    frame = snapshots.to_pandas().head(1).drop(columns=["logins_30d"]).assign(account_id="old-1")
    store = HealthStore.open(store_url)
    write_latest_features(store, frame, date(2020, 1, 1), "ancient-model", keep_days=100_000)
    store.close()
    result = post(client, keys["predict"], {"accounts": [{"account_id": "old-1"}]}).json()
    entry = result["results"][0]
    assert entry["status"] == 409 and "logins_30d" in entry["error"]


def test_scores_served_are_counted(
    client: TestClient, keys: dict[str, str], latest: pd.DataFrame
) -> None:
    def served() -> float:
        text = client.get("/metrics", headers=auth(keys["read"])).text
        return float(
            next(
                line.split()[-1]
                for line in text.splitlines()
                if line.startswith("vitals_scores_served_total")
            )
        )

    before = served()
    ids = [{"account_id": a} for a in latest["account_id"][:4]] + [{"account_id": "nope"}]
    assert post(client, keys["predict"], {"accounts": ids}).status_code == 200
    assert served() == before + 4


def test_a_chunked_body_past_the_limit_is_413(
    store_url: str, model: HealthModel, keys: dict[str, str]
) -> None:
    from vitals.config.settings import Settings
    from vitals.serving.api.app import create_app
    from vitals.serving.store import HealthStore

    def chunks():
        yield b'{"accounts": ['
        for i in range(200):
            yield b'{"account_id": "%d"},' % i
        yield b'{"account_id": "end"}]}'

    store = HealthStore.open(store_url)
    settings = Settings(database_url=store_url, serving={"max_body_bytes": 2048})
    with TestClient(create_app(settings, model=model, store=store)) as small:
        headers = {**auth(keys["predict"]), "Content-Type": "application/json"}
        response = small.post("/v1/predict", content=chunks(), headers=headers)
    store.close()
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and "too large" in response.json()["detail"]


def test_dependency_overrides_reach_the_predict_route(
    client: TestClient, keys: dict[str, str], latest: pd.DataFrame, model: HealthModel
) -> None:
    from dataclasses import replace

    from vitals.serving.api.deps import get_model

    served = client.app.state.models.current
    client.app.dependency_overrides[get_model] = lambda: replace(served, version="override-9")
    try:
        body = {"accounts": [{"account_id": "x", "features": features(latest.iloc[0])}]}
        answer = post(client, keys["predict"], body)
        assert answer.status_code == 200 and answer.json()["model_version"] == "override-9"
        assert post(client, "vk_wrong", body).status_code == 401
    finally:
        client.app.dependency_overrides.clear()
    assert post(client, keys["predict"], body).json()["model_version"] == served.version


def test_impossible_values_and_unknown_keys_are_one_422_naming_each_field(
    client: TestClient, keys: dict[str, str], latest: pd.DataFrame, model: HealthModel
) -> None:
    good = features(latest.iloc[0])
    assert model.catalog_["logins_30d"].minimum == 0.0
    bad = {**good, "logins_30d": -5, "tenure_days": -100, "logins_30": 3, "colour": "red"}
    body = {
        "accounts": [{"account_id": "ok", "features": good}, {"account_id": "x", "features": bad}]
    }
    response = post(client, keys["predict"], body)

    assert response.status_code == 422
    found = {tuple(e["loc"]): (e["type"], e["msg"]) for e in response.json()["detail"]}
    where = ("body", "accounts", 1, "features")
    at_least_0 = ("greater_than_equal", "Input should be greater than or equal to 0")
    unknown = (
        "extra_forbidden",
        "Extra inputs are not permitted: the model does not read this feature",
    )
    assert found == {
        (*where, "logins_30d"): at_least_0,
        (*where, "tenure_days"): at_least_0,
        (*where, "logins_30"): unknown,
        (*where, "colour"): unknown,
    }


def test_a_stored_vector_with_keys_the_model_does_not_read_still_scores(
    client: TestClient, keys: dict[str, str], store_url: str, latest: pd.DataFrame
) -> None:
    from vitals.serving.store import HealthStore
    from vitals.serving.store.features_table import write_latest_features

    frame = latest.head(1).assign(account_id="older-1", retired_feature_30d=4.0)
    store = HealthStore.open(store_url)
    write_latest_features(store, frame, date(2020, 1, 1), "older-model", keep_days=100_000)
    store.close()
    response = post(client, keys["predict"], {"accounts": [{"account_id": "older-1"}]})

    assert response.status_code == 200
    entry = response.json()["results"][0]
    assert entry["status"] == 200 and entry["source"] == "stored"
