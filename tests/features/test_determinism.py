"""The same data gives bit-identical snapshots, however DuckDB splits the work among threads.

A sum of doubles depends on the order of its terms, and parallel aggregation adds them in a
varying order; the feature SQL therefore sums exact decimals. Building with one thread and with
several threads puts the terms in different orders, so any order-dependent aggregate shows up
here as a difference in the last bits.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from handmade import account, event, line, write_tables

from vitals.features.build import build_features, default_dates
from vitals.features.catalog import Vocabulary
from vitals.features.loader import load_dataset
from vitals.features.simulate import simulate, write_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("determinism")
    write_dataset(simulate(accounts=150, months=12, seed=13), root, "parquet")
    return root


def build(dataset, threads: int) -> pd.DataFrame:
    dataset.con.execute(f"SET threads = {threads}")
    return build_features(dataset, default_dates(dataset, every="1mo")).to_pandas()


def test_builds_are_bit_identical_whatever_the_threads(data_dir):
    dataset = load_dataset(data_dir)
    serial = build(dataset, 1)
    parallel = [build(dataset, 4), build(dataset, 4)]
    assert len(serial) > 500
    for frame in parallel:
        pd.testing.assert_frame_equal(frame, serial, check_exact=True)


def test_summed_features_stay_doubles(data_dir):
    frame = build(load_dataset(data_dir), 2)
    for column in ("session_minutes_30d", "value_sum_30d", "mrr", "seats", "discount"):
        assert frame[column].dtype == "float64", column


@pytest.mark.parametrize("scores", [(3, 8), (8, 3)])
def test_simultaneous_nps_answers_pick_the_same_latest_whatever_their_order(tmp_path, scores):
    surveys = [
        {
            "account_id": "a",
            "responded_at": ts,
            "kind": "nps",
            "score": score,
            "user_id": None,
            "comment": None,
        }
        for ts, score in [("2024-05-01 10:00", 10), *(("2024-05-20 10:00", s) for s in scores)]
    ]
    root = write_tables(
        tmp_path / "ties",
        accounts=[account("a")],
        subscriptions=[line("a", "2024-01-01")],
        events=[event("a", "2024-05-02 10:00", "login")],
        surveys=surveys,
    )
    frame = build_features(
        load_dataset(root), [date(2024, 6, 1)], vocabulary=Vocabulary()
    ).to_pandas()
    assert frame["nps_latest"].tolist() == [8.0]
