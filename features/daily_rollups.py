"""Per-account daily roll-ups of events, kept up to date as events are added.

Every feature of events reads the events through their daily roll-ups
(:data:`~vitals.features.event_queries.DAILY_STEPS`): ``ev_day`` holds counts and exact sums
per account and day, ``user_days`` and ``feature_days`` the distinct users and product features
active per account and day. The roll-ups of two sets of events together are the sums
(``ev_day``) or the union (the others) of each set's. So the roll-ups of every event are kept
by adding those of each set of new events, and the roll-ups of a few accounts are read from
them without rolling up their events again (thousands for a busy account), equal to the last
bit to rolling up all their events at once: integer and exact decimal sums do not depend on
their order.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa

from vitals.features.build import daily_rollups
from vitals.features.casting import quote
from vitals.features.catalog import FeatureSet
from vitals.features.event_queries import DAILY_STEPS

SUMMED_STEP = "ev_day"  # the roll-up of counts and sums; the others are sets of rows
KEYS = ("account_id", "day")  # of SUMMED_STEP


def rollup_table(step: str) -> str:
    """The name of the table holding the roll-up of step ``step``."""
    return f"__vitals_daily_{step}"


class DailyRollups:
    """The daily roll-ups that snapshots of one feature set on one date read, of every event of
    a connection's ``events`` table, and of the events added after.

    Args:
        con: the connection holding ``events``; the roll-ups are its temporary tables.
        feature_set: the features (their vocabulary is rolled up item by item).
        first: the snapshot date (older events than its windows reach are left out).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, feature_set: FeatureSet, first: date):
        self.con, self.feature_set, self.first = con, feature_set, first
        for step, sql in daily_rollups(feature_set, first, "events"):
            # in order of day: new events fall on the last days, and a join with them then
            # reads only the last row groups (DuckDB skips the others by their range of days)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rollup_table(step)} AS {sql} ORDER BY day")

    @property
    def tables(self) -> dict[str, str]:
        """The roll-up tables by step name (``build_features(daily=...)`` reads them)."""
        return {step: rollup_table(step) for step in DAILY_STEPS}

    def add(self, events: str) -> None:
        """Take in the events of the relation ``events`` (same columns as ``events``), which the
        roll-ups do not include yet."""
        for step, sql in daily_rollups(self.feature_set, self.first, events):
            added = f"__vitals_added_{step}"
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {added} AS {sql}")
            try:
                self._merge(rollup_table(step), added, summed=step == SUMMED_STEP)
            finally:
                self.con.execute(f"DROP TABLE {added}")

    def _merge(self, table: str, added: str, summed: bool) -> None:
        """Add the rows of ``added`` to ``table``: a key it holds already gets the new counts and
        sums added (``summed``) or is left as it is (a set of rows)."""
        columns = [row[0] for row in self.con.execute(f"DESCRIBE {added}").fetchall()]
        keys = KEYS if summed else columns
        same = " AND ".join(f"old.{quote(k)} = new.{quote(k)}" for k in keys)
        if summed:  # as SUM does: NULL where both are (COUNT_IF over NULL conditions only)
            summed_columns = [quote(name) for name in columns if name not in KEYS]
            sums = ", ".join(
                f"{c} = COALESCE(old.{c} + new.{c}, old.{c}, new.{c})" for c in summed_columns
            )
            self.con.execute(f"UPDATE {table} AS old SET {sums} FROM {added} AS new WHERE {same}")
        # the keys held already, found by a join (which reads only the row groups of their
        # days) rather than by NOT EXISTS (which reads every row)
        known = f"(SELECT old.* FROM {table} AS old SEMI JOIN {added} AS new ON {same})"
        self.con.execute(
            f"INSERT INTO {table} BY NAME SELECT new.* FROM {added} AS new "
            f"ANTI JOIN {known} AS old ON {same}"
        )

    def of(self, accounts: str) -> dict[str, pa.Table]:
        """The roll-ups of the accounts in the relation ``accounts`` (column ``account_id``), by
        step name."""
        return {
            step: self.con.sql(
                f"SELECT * FROM {rollup_table(step)} "
                f"WHERE account_id IN (SELECT account_id FROM {accounts})"
            ).to_arrow_table()
            for step in DAILY_STEPS
        }
