"""Per-account daily roll-ups of events, kept up to date as events are added.

Every feature of events reads the events through their daily roll-ups
(:data:`~vitals.features.event_queries.DAILY_STEPS`): ``ev_day`` holds counts and exact sums
per account and day; ``user_day`` and ``feature_day`` the days each user or product feature of
an account was active, each with the day before that it was. New events add to them: their
counts and sums to those of their day (integer and exact decimal sums do not depend on their
order), their days to the active days, and a user's or feature's new day changes the day before
of its own row and of the next. So the roll-ups of every event are kept by adding those of each
set of new events, and a few accounts' roll-ups are read without rolling up their events again
(thousands for a busy account), equal to the last bit to rolling up all their events at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import duckdb
import pyarrow as pa

from vitals.features.casting import quote
from vitals.features.catalog import FeatureSet
from vitals.features.dates import to_day
from vitals.features.event_queries import (
    ACTIVE_KEYS,
    DAILY_STEPS,
    active_days,
    daily_steps,
    key_days,
)
from vitals.features.families.vocabulary import counted_items

SUMMED_STEP = "ev_day"  # the roll-up of counts and sums
SUMMED_KEYS = ("account_id", "day")


def rollup_table(step: str) -> str:
    """The name of the table holding the roll-up of step ``step``."""
    return f"__vitals_daily_{step}"


class DailyRollups:
    """The daily roll-ups that snapshots of one feature set on one date read, of every event of
    a connection's ``events`` table, and of the events added after.

    When :meth:`add` fails the roll-ups may hold part of the events: build them again.

    Args:
        con: the connection holding ``events``; the roll-ups are its temporary tables.
        feature_set: the features (their vocabulary is rolled up item by item).
        first: the snapshot date (older events than its windows reach are left out).
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, feature_set: FeatureSet, first: date
    ) -> None:
        self.con, self.first_day = con, to_day(first)
        self.items = counted_items(feature_set.vocabulary)
        for step, sql in daily_steps(self.items, self.first_day):
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
        summed = dict(daily_steps(self.items, self.first_day, events))[SUMMED_STEP]
        with self._temporary("added", summed) as added:
            self._add_sums(rollup_table(SUMMED_STEP), added)
        for step, key in ACTIVE_KEYS.items():
            with self._temporary("days", key_days(step, self.first_day, events)) as days:
                self._add_days(rollup_table(step), key, days)

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

    def _add_sums(self, table: str, added: str) -> None:
        """Add the counts and sums of ``added`` (one row per account and day) to ``table``'s."""
        columns = [row[0] for row in self.con.execute(f"DESCRIBE {added}").fetchall()]
        same = _same(SUMMED_KEYS)
        sums = ", ".join(
            # as SUM does: NULL where both are (COUNT_IF over NULL conditions only)
            f"{c} = COALESCE(old.{c} + new.{c}, old.{c}, new.{c})"
            for c in (quote(name) for name in columns if name not in SUMMED_KEYS)
        )
        self.con.execute(f"UPDATE {table} AS old SET {sums} FROM {added} AS new WHERE {same}")
        self.con.execute(
            f"INSERT INTO {table} BY NAME SELECT new.* FROM {added} AS new "
            f"ANTI JOIN {_held(table, added, same)} AS old ON {same}"
        )

    def _add_days(self, table: str, key: str, days: str) -> None:
        """Add the active days ``days`` (account, ``key``, day) that ``table`` lacks."""
        day = _same(("account_id", key, "day"))
        lacking = (
            f"SELECT new.* FROM {days} AS new ANTI JOIN {_held(table, days, day)} AS old ON {day}"
        )
        with self._temporary("fresh", lacking) as fresh:
            if self.con.execute(f"SELECT count(*) FROM {fresh}").fetchall()[0][0]:
                self._insert_days(table, key, fresh)

    def _insert_days(self, table: str, key: str, fresh: str) -> None:
        """Insert the new active days ``fresh`` into ``table``, each with the day before, and give
        the next day of the same key its new day before."""
        day, pair = _same(("account_id", key, "day")), _same(("account_id", key))
        # every day of the keys with a new day (read through the table: the day before may be
        # long before), and the day before of each again
        held = f"SELECT old.* FROM {table} AS old SEMI JOIN {fresh} AS new ON {pair}"
        with (
            self._temporary("held", held) as held_rows,
            self._temporary("redone", _previous_days(key, held_rows, fresh)) as redone,
        ):
            changed = (
                f"SELECT new.* FROM {redone} AS new JOIN {held_rows} AS old ON {day} "
                "WHERE new.prev_day IS DISTINCT FROM old.prev_day"
            )
            self.con.execute(
                f"UPDATE {table} AS old SET prev_day = new.prev_day FROM ({changed}) AS new "
                f"WHERE {day}"
            )
            self.con.execute(
                f"INSERT INTO {table} BY NAME SELECT new.* FROM {redone} AS new "
                f"SEMI JOIN {fresh} AS old ON {day}"
            )

    @contextmanager
    def _temporary(self, name: str, sql: str) -> Iterator[str]:
        """A temporary table of ``sql``'s rows for the ``with`` block (its name is the value)."""
        table = f"__vitals_{name}"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
        try:
            yield table
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {table}")


def _previous_days(key: str, held: str, fresh: str) -> str:
    """The active days of ``held`` (with their previous day) and ``fresh`` (without), each with
    its previous day among them."""
    every = f"(SELECT account_id, {quote(key)}, day FROM {held} UNION ALL FROM {fresh}) AS d"
    return active_days(quote(key), every)


def _same(keys: tuple[str, ...]) -> str:
    return " AND ".join(f"old.{quote(k)} = new.{quote(k)}" for k in keys)


def _held(table: str, new: str, same: str) -> str:
    """The rows of ``table`` whose keys ``new`` holds too, found by a join (which reads only the
    row groups of their days) rather than by NOT EXISTS (which reads every row)."""
    return f"(SELECT old.* FROM {table} AS old SEMI JOIN {new} AS new ON {same})"
