"""Daily roll-ups of events kept up to date as events are added equal rolling up every event at
once, and snapshots built from them equal snapshots built from the events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vitals.features.build import build_feature_set, build_features
from vitals.features.catalog import FeatureSet, Vocabulary
from vitals.features.daily_rollups import DailyRollups
from vitals.features.event_queries import DAILY_STEPS
from vitals.features.loader import load_dataset

if TYPE_CHECKING:
    from conftest import DataDir

AS_OF = date(2024, 7, 1)
ACCOUNTS = ("a", "b", "c")
EVENTS_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("event_type", pa.string()),
        ("user_id", pa.string()),
        ("feature", pa.string()),
        ("value", pa.float64()),
    ]
)
# counts one type and one feature by name, the rest as "other"
FEATURES = FeatureSet((), Vocabulary(("login",), ("reports",), (), True, True), 90, 30)

events = st.fixed_dictionaries(
    {
        "account_id": st.sampled_from(ACCOUNTS),
        # days back from the snapshot: some older than any window reaches, some on its eve
        "timestamp": st.builds(
            lambda days, seconds: datetime(2024, 7, 1) - timedelta(days=days, seconds=seconds),
            st.integers(0, 200),
            st.integers(1, 86_400),
        ),
        "event_type": st.sampled_from(["login", "session", "export", "brand_new"]),
        "user_id": st.sampled_from([None, "u1", "u2", "u3"]),
        "feature": st.sampled_from([None, "reports", "exports"]),
        "value": st.sampled_from([None, 0.1, 0.2, 1.5, 1e6]),
    }
)


def _connection(rows: list[dict]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("drawn", pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA))
    con.execute("CREATE TABLE events AS SELECT * FROM drawn")
    con.unregister("drawn")
    return con


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending") for name in table.column_names])


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    base=st.lists(events, max_size=30),
    added=st.lists(st.lists(events, min_size=1, max_size=15), min_size=1, max_size=4),
    wanted=st.sets(st.sampled_from(ACCOUNTS), min_size=1),
)
def test_rollups_kept_as_events_are_added_equal_rolling_up_every_event(
    base: list[dict], added: list[list[dict]], wanted: set[str]
) -> None:
    kept = _connection(base)
    rollups = DailyRollups(kept, FEATURES, AS_OF)
    for part in added:
        kept.register("new_events", pa.Table.from_pylist(part, schema=EVENTS_SCHEMA))
        rollups.add("new_events")
        kept.unregister("new_events")
    every = _connection(base + [row for part in added for row in part])
    at_once = DailyRollups(every, FEATURES, AS_OF)
    for con in (kept, every):
        con.register("wanted", pa.table({"account_id": sorted(wanted)}))
    kept_rows, all_rows = rollups.of("wanted"), at_once.of("wanted")
    assert set(kept_rows) == set(DAILY_STEPS)
    for step in DAILY_STEPS:
        assert kept_rows[step].schema == all_rows[step].schema
        # each key once, with the same counts and exact sums
        assert _sorted(kept_rows[step]).equals(_sorted(all_rows[step])), step
    assert set(kept_rows["ev_day"]["account_id"].to_pylist()) <= wanted


def test_snapshots_built_from_rollups_equal_snapshots_built_from_events(data: DataDir) -> None:
    dataset = load_dataset(data.path)
    dates = [date(2024, 1, 4), date(2024, 1, 6)]
    snapshots = build_features(dataset, dates)
    assert snapshots.table.num_rows > 0
    rollups = DailyRollups(dataset.con, snapshots.feature_set, dates[0])
    again = build_feature_set(dataset, snapshots.feature_set, dates, daily=rollups.tables)
    assert again.table.equals(snapshots.table)
    # the roll-ups stay, the views over them are gone: a second build runs the same way
    assert build_feature_set(
        dataset, snapshots.feature_set, dates, daily=rollups.tables
    ).table.equals(snapshots.table)
    with pytest.raises(ValueError, match="duckdb"):
        build_feature_set(
            dataset, snapshots.feature_set, dates, engine="spark", daily=rollups.tables
        )
