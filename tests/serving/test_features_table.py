"""Feature vectors survive the store exactly: every float, int, string and missing value."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import select, text

from vitals.serving.store import HealthStore, feature_layouts, upgrade
from vitals.serving.store.features_table import (
    _vectors,
    read_latest_features,
    write_latest_features,
)
from vitals.serving.store.migrate import alembic_config
from vitals.serving.store.schema import AccountFeatures, FeatureLayout

DAY = date(2026, 1, 1)
EXACT_FLOATS = [0.1 + 0.2, 1e-300, 5e-324, 1.7976931348623157e308, 1e16, -0.0, 3.0, 2 / 3]


@pytest.fixture
def store(tmp_path: Path):
    opened = HealthStore.open(f"sqlite:///{tmp_path}/features.db")
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def no_layouts_known(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test reads the layouts from its own store, not from what an earlier test read."""
    monkeypatch.setattr(feature_layouts, "_KNOWN", {})


def _read(frame: pd.DataFrame) -> list[dict]:
    """The vectors ``frame``'s rows are stored as, each read back with its names."""
    names, texts = _vectors(frame)
    return [dict(zip(names, json.loads(text), strict=True)) for text in texts]


def _random_floats(count: int) -> np.ndarray:
    """Floats of every magnitude, drawn as random bit patterns (NaN and inf kept out)."""
    bits = np.random.default_rng(7).integers(0, 2**64, size=4 * count, dtype=np.uint64)
    floats = bits.view(np.float64)
    return floats[np.isfinite(floats)][:count]


def _frame(floats: list[float] | np.ndarray) -> pd.DataFrame:
    count = len(floats)
    return pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(count)],
            "as_of": pd.Timestamp(DAY),
            "score": np.asarray(floats, dtype=np.float64),
            "small": (np.arange(count) / 7).astype(np.float32),
            "logins": np.arange(count, dtype=np.int64) + 2**62,
            "flag": np.arange(count) % 2 == 0,
            "segment": pd.Series(["smb", None, 'ent\u00e9 "q"'] * count, dtype="str")[:count],
            "seen": pd.Timestamp("2025-12-31 08:30"),
            "churned_within_horizon": 1,
            "churn_date": pd.NaT,
        }
    )


def test_random_floats_come_back_bit_for_bit() -> None:
    floats = np.concatenate([_random_floats(5000), EXACT_FLOATS])
    frame = _frame(floats)

    read = _read(frame)

    assert [row["score"] for row in read] == floats.tolist()
    assert np.array_equal(
        np.array([row["score"] for row in read]).view(np.uint64), floats.view(np.uint64)
    )  # -0.0 stays negative
    assert [row["small"] for row in read] == frame["small"].astype(np.float64).tolist()
    assert all(type(row["score"]) is float for row in read)  # 3.0 is not read back as 3


def test_values_are_plain_json_and_missing_ones_null() -> None:
    frame = _frame([math.nan, math.inf, -math.inf])

    _, texts = _vectors(frame)
    read = _read(frame)

    assert [row["score"] for row in read] == [None, None, None]
    assert not any(word in text for text in texts for word in ("NaN", "Infinity"))
    assert [row["logins"] for row in read] == [2**62, 2**62 + 1, 2**62 + 2]
    assert [row["flag"] for row in read] == [True, False, True]
    assert [row["segment"] for row in read] == ["smb", None, 'ent\u00e9 "q"']
    assert read[0]["seen"] == "2025-12-31T08:30:00"
    assert set(read[0]) == {"score", "small", "logins", "flag", "segment", "seen"}


def test_object_and_nullable_columns_hold_numpy_scalars_and_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "account_id": ["a", "b", "c"],
            "mixed": pd.Series([np.float64(0.1), np.int64(7), pd.NA], dtype=object),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
        }
    )

    read = _read(frame)

    assert read == [
        {"mixed": 0.1, "nullable": 1},
        {"mixed": 7, "nullable": None},
        {"mixed": None, "nullable": 3},
    ]


def test_a_frame_without_feature_columns_stores_empty_vectors() -> None:
    frame = pd.DataFrame({"account_id": ["a", "b"], "as_of": pd.Timestamp(DAY)})

    assert _vectors(frame) == ([], ["[]", "[]"])


def test_the_store_reads_back_exactly_what_was_written(store: HealthStore) -> None:
    floats = np.concatenate([_random_floats(300), EXACT_FLOATS, [math.nan]])
    frame = _frame(floats)

    assert write_latest_features(store, frame, DAY, "v1") == len(frame)
    with store.session() as session:
        stored = read_latest_features(session, frame["account_id"].tolist())

    scores = [stored[a].features["score"] for a in frame["account_id"]]
    assert scores[:-1] == floats[:-1].tolist()
    assert scores[-1] is None
    assert stored["a1"].features["logins"] == 2**62 + 1
    assert stored["a1"].features["segment"] is None


def test_vectors_store_their_values_and_share_one_layout_per_set_of_columns(
    store: HealthStore,
) -> None:
    frame = _frame(EXACT_FLOATS)
    write_latest_features(store, frame, DAY, "v1")
    write_latest_features(store, frame, date(2026, 2, 1), "v1")
    write_latest_features(store, frame.drop(columns=["flag"]), date(2026, 3, 1), "v2")
    with store.session() as session:
        layouts = dict(session.execute(select(FeatureLayout.id, FeatureLayout.names)).all())
        stored = session.execute(select(AccountFeatures.layout_id, AccountFeatures.features))
        rows = list(stored.all())

    columns = ["score", "small", "logins", "flag", "segment", "seen"]
    assert sorted(layouts.values(), key=len) == [[c for c in columns if c != "flag"], columns]
    assert len(rows) == 3 * len(frame)
    assert all(len(values) == len(layouts[layout]) for layout, values in rows)


def test_vectors_stored_before_layouts_read_as_before_and_a_downgrade_names_them_again(
    database_url: str,
) -> None:
    opened = HealthStore.open(database_url)
    config = alembic_config()
    old = {"score": 0.1 + 0.2, "segment": "smb", "nps": None}
    with opened.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
        conn.execute(
            text(
                "INSERT INTO account_features (account_id, as_of, model_version, features, "
                "written_at) VALUES ('old', :day, 'v0', :features, :now)"
            ),
            {"day": DAY, "features": json.dumps(old), "now": datetime(2026, 1, 2, tzinfo=UTC)},
        )
    upgrade(opened.engine)
    new = _frame([2 / 3, *_random_floats(1200)])  # more than the downgrade names at once
    write_latest_features(opened, new, date(2026, 2, 1), "v1")
    with opened.session() as session:
        read = read_latest_features(session, ["old", *new["account_id"]])
    assert read["old"].features == old
    assert read["a0"].features["score"] == 2 / 3 and read["a0"].features["segment"] == "smb"
    assert list(read["a0"].features) == _vectors(new)[0]

    with opened.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0010")
        stored = dict(conn.execute(text("SELECT account_id, features FROM account_features")).all())
    as_objects = {a: v if isinstance(v, dict) else json.loads(v) for a, v in stored.items()}
    assert as_objects == {account: vector.features for account, vector in read.items()}
    opened.close()


def test_columns_named_by_numbers_are_stored_and_read_by_their_names(store: HealthStore) -> None:
    frame = pd.DataFrame({"account_id": ["a", "b"], "x": [1.0, 2.0], 0: [3.0, None]})

    write_latest_features(store, frame, DAY, "v1")
    with store.session() as session:
        read = read_latest_features(session, ["a", "b"])

    assert read["a"].features == {"x": 1.0, "0": 3.0}
    assert read["b"].features == {"x": 2.0, "0": None}
