"""Point-in-time correctness: removing the future must not change a single feature."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from vitals.features.build import build_features
from vitals.features.loader import load_dataset
from vitals.features.simulate import simulate, write_dataset

AS_OF = date(2026, 3, 1)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, pa.Table]:
    return simulate(accounts=250, months=14, seed=11)


def truncate(tables: dict[str, pa.Table], as_of: date) -> dict[str, pd.DataFrame]:
    """The data as the world looked on ``as_of``: later rows removed, later ends unknown."""
    cut = pd.Timestamp(datetime.combine(as_of, datetime.min.time()))
    frames = {name: t.to_pandas() for name, t in tables.items()}

    def before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[pd.to_datetime(frame[column]) < cut].copy()

    accounts = before(frames["accounts"], "created_at")
    subs = before(frames["subscriptions"], "start_date")
    subs["end_date"] = subs["end_date"].where(pd.to_datetime(subs["end_date"]) < cut, None)
    tickets = before(frames["tickets"], "opened_at")
    later = ~(pd.to_datetime(tickets["closed_at"]) < cut)
    tickets.loc[later, "closed_at"] = pd.NaT
    tickets.loc[later, "csat"] = np.nan
    return {
        "accounts": accounts,
        "subscriptions": subs,
        "events": before(frames["events"], "timestamp"),
        "tickets": tickets,
        "surveys": before(frames["surveys"], "responded_at"),
        "sentiment": before(frames["sentiment"], "recorded_at"),
    }


def features_at(root: Path) -> pd.DataFrame:
    """The snapshot at AS_OF, with the vocabulary discovered from the data as by default."""
    snapshots = build_features(load_dataset(root), [AS_OF])
    assert snapshots.vocabulary.event_types and snapshots.vocabulary.features
    return snapshots.to_pandas().set_index("account_id")[snapshots.feature_names]


def test_removing_the_future_changes_no_feature(world, tmp_path):
    full_dir = tmp_path / "full"
    write_dataset(world, full_dir, "parquet")
    cut_dir = tmp_path / "cut"
    cut_tables = {
        name: pa.Table.from_pandas(frame, schema=world[name].schema, preserve_index=False)
        for name, frame in truncate(world, AS_OF).items()
    }
    write_dataset(cut_tables, cut_dir, "parquet")
    full = features_at(full_dir)
    cut = features_at(cut_dir)
    assert len(full) > 100
    assert list(full.index) == list(cut.index)
    pd.testing.assert_frame_equal(full, cut, check_exact=False, rtol=1e-12)
    # the world after as_of really was different (the test would catch a leak)
    assert len(cut_tables["events"]) < len(world["events"])
