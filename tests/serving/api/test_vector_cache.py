"""The cache of stored feature vectors behind POST /v1/predict by account id."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from vitals.serving.api.vector_cache import VectorCache
from vitals.serving.store import HealthStore
from vitals.serving.store.features_table import write_latest_features

D1, D2 = date(2026, 1, 1), date(2026, 2, 1)


@pytest.fixture
def store(tmp_path: Path):
    opened = HealthStore.open(f"sqlite:///{tmp_path}/vectors.db")
    yield opened
    opened.close()


def write(store: HealthStore, logins: dict[str, float], day: date) -> None:
    frame = pd.DataFrame({"account_id": list(logins), "logins_30d": list(logins.values())})
    write_latest_features(store, frame, day, "v1")


def test_answers_are_reused_until_they_expire(store: HealthStore) -> None:
    write(store, {"a": 1.0, "b": 2.0}, D1)
    cached, fresh = VectorCache(store, ttl=3600), VectorCache(store, ttl=0)
    first = cached.newest(["a", "b", "ghost"])
    assert {k: (v.as_of, v.features["logins_30d"]) for k, v in first.items()} == {
        "a": (D1, 1.0),
        "b": (D1, 2.0),
    }
    write(store, {"a": 5.0, "ghost": 7.0}, D2)  # a later batch run
    again = cached.newest(["a", "ghost"])
    assert again["a"].as_of == D1 and "ghost" not in again  # "no vector" is remembered too
    now = fresh.newest(["a", "b", "ghost"])
    assert {k: v.as_of for k, v in now.items()} == {"a": D2, "b": D1, "ghost": D2}


def test_a_miss_reads_only_the_accounts_not_cached(store: HealthStore) -> None:
    write(store, {"a": 1.0}, D1)
    cache = VectorCache(store, ttl=3600)
    cache.newest(["a"])
    write(store, {"a": 9.0, "b": 3.0}, D2)
    got = cache.newest(["a", "b"])
    assert (got["a"].as_of, got["b"].as_of) == (D1, D2)
