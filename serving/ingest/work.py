"""What a re-scoring step reads from the data: the features of the accounts to score.

The :class:`WorkReader` owns the data directory loaded with every ingested batch. Each call of
:meth:`WorkReader.next` takes in the batches committed since the last one and computes the
features a step scores: every current customer's when the date, the model or the product
features in use changed (see :mod:`vitals.serving.ingest.rescoring`), otherwise only the touched
accounts'. It reads and computes in DuckDB, apart from the scoring and writing of
:class:`~vitals.serving.ingest.rescoring.Rescorer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import pyarrow as pa

from vitals.features.build import build_feature_set
from vitals.features.casting import quote
from vitals.features.daily_rollups import DailyRollups, rollup_table
from vitals.features.ingested import Batch, CompactedAway, IngestedStore
from vitals.features.ingested_rows import append_batches, scan_segments
from vitals.features.loader import Dataset, quiet_connection
from vitals.features.pipeline import load_valid_dataset
from vitals.serving.batch import plan
from vitals.serving.batch.model_source import LoadedModel

NEW_EVENTS = "__vitals_new_events"
AMONG_TOUCHED = "account_id IN (SELECT account_id FROM __vitals_touched)"


@dataclass(frozen=True)
class Work:
    """The data of one re-scoring step.

    Attributes:
        loaded: the model the features were built for.
        as_of: the scoring date.
        full: whether ``frame`` holds every current customer (else the touched ones).
        frame: snapshot rows to score.
        tree: ``account_id, parent_id`` of every account (the same object as the last work's
            while no account is added).
        touched: the accounts the new batches touched, and those of the rows they replaced
            (empty for a full step).
        new_accounts: whether the new batches added accounts.
        through: the last ingested batch the data includes.
    """

    loaded: LoadedModel
    as_of: date
    full: bool
    frame: pd.DataFrame
    tree: pd.DataFrame
    touched: tuple[str, ...]
    new_accounts: bool
    through: int


class WorkReader:
    """Reads each step's data from a data directory and its ingested batches.

    Args:
        dataset: the data directory loaded with every ingested batch so far (kept up to date
            from ``ingested``; owned by the reader from now on).
        ingested: the store of ingested batches.
    """

    def __init__(self, dataset: Dataset, ingested: IngestedStore) -> None:
        self.dataset = dataset
        self.ingested = ingested
        self._key: tuple[date, str] | None = None  # what the last work was read for
        self._first_use: pa.Table | None = None  # see _first_uses
        self._rollups: DailyRollups | None = None  # of every event, for the last work's key
        self._tree: pd.DataFrame | None = None  # read again when accounts are added

    def next(self, loaded: LoadedModel) -> Work | None:
        """Take in the batches committed since the last call and read the next step's data.

        Returns:
            The work, or ``None`` when nothing is new.
        """
        try:
            new = list(self.ingested.batches(after=self.dataset.ingested_through))
        except CompactedAway:  # another process folded batches this reader had not taken in
            self._reload()
            new = []
        appended = append_batches(self.dataset, self.ingested, new)
        new_events = self._new_events(new)
        known, self._first_use = self._first_use, self._first_uses(new_events)
        as_of = plan.score_date(self.dataset, None)
        full = self._key != (as_of, loaded.version) or _new_features(known, self._first_use)
        if not full and not new:
            return None
        # a replacing row may have moved a ticket off an account that is not in its batch
        touched = sorted({a for batch in new for a in batch.accounts} | appended.replaced_accounts)
        if full:
            self._rollups = None  # until they are those of this work's key
            rollups = DailyRollups(self.dataset.con, loaded.model.feature_set_, as_of)
            frame = _features(self.dataset, loaded, as_of, rollups.tables)
            self._rollups = rollups
        else:
            assert self._rollups is not None  # a partial step follows a full one
            if new_events is not None:
                self._key = None  # until the roll-ups hold them all (add may fail half-way)
                self._rollups.add(new_events)
            frame = self._features_of(touched, loaded, as_of)
        new_accounts = any("accounts" in batch.segments for batch in new)
        if full or new_accounts or self._tree is None:
            self._tree = self.dataset.account_tree()
        self._key = (as_of, loaded.version)
        return Work(
            loaded,
            as_of,
            full,
            frame,
            self._tree,
            () if full else tuple(touched),
            new_accounts,
            self.dataset.ingested_through,
        )

    def _features_of(self, accounts: list[str], loaded: LoadedModel, as_of: date) -> pd.DataFrame:
        """The features of ``accounts`` alone."""
        if not accounts:  # every row of the new batches was refused
            return pd.DataFrame({"account_id": pd.Series([], dtype=object)})
        assert self._rollups is not None
        subset = _subset(self.dataset, accounts, self._rollups, self._first_use)
        try:
            return _features(subset, loaded, as_of, self._rollups.tables)
        finally:
            subset.con.close()

    def restart(self) -> None:
        """Have the next work score everyone, with the first uses found again over all events
        (after a step failed: its batches may be in the data but in neither)."""
        self._key = None
        self._first_use = None

    def _reload(self) -> None:
        """Load the data and every ingested row again; the next work scores everyone."""
        dataset = load_valid_dataset(self.dataset.path)
        self.dataset.con.close()
        self.dataset = dataset
        self.restart()

    def _new_events(self, new: list[Batch]) -> str | None:
        """The events of the ``new`` batches (just added to the data), as a temporary table typed
        like ``events``; ``None`` when they hold none."""
        files = [self.ingested.root / b.segments["events"] for b in new if "events" in b.segments]
        if not files:
            return None
        con = self.dataset.con
        con.execute(f"CREATE OR REPLACE TEMP TABLE {NEW_EVENTS} AS FROM events LIMIT 0")
        con.execute(f"INSERT INTO {NEW_EVENTS} BY NAME SELECT * FROM {scan_segments(files)}")
        return NEW_EVENTS

    def _first_uses(self, new_events: str | None) -> pa.Table | None:
        """The first event of each product feature in the data with the new events (``None``
        without events). Events are only ever added: the first uses known before and the new
        events hold the first uses now, found without reading every event again."""
        if not self.dataset.has("events"):
            return None
        if self._first_use is None:
            return self.dataset.con.sql(_first_use_sql("events")).to_arrow_table()
        if new_events is None:
            return self._first_use
        self.dataset.con.register("__vitals_first_use", self._first_use)
        try:
            known_and_new = (
                f"(SELECT * FROM __vitals_first_use UNION ALL BY NAME SELECT * FROM {new_events})"
            )
            return self.dataset.con.sql(_first_use_sql(known_and_new)).to_arrow_table()
        finally:
            self.dataset.con.unregister("__vitals_first_use")

    def close(self) -> None:
        """Release the data."""
        self.dataset.con.close()


def _features(
    dataset: Dataset, loaded: LoadedModel, as_of: date, daily: dict[str, str]
) -> pd.DataFrame:
    snapshots = build_feature_set(dataset, loaded.model.feature_set_, [as_of], daily=daily)
    return snapshots.to_pandas()


# The first event of each product feature, whoever sent it: how many product features exist at
# a date (the denominator of feature breadth) is a fact of the whole data, not of a few accounts.
# The earliest time per feature first (an aggregate), then its rows: a window over all events
# sorted every event, about ten times slower.
def _first_use_sql(events: str) -> str:
    return (
        f"SELECT e.* FROM {events} AS e JOIN (SELECT feature, min(timestamp) AS first_at "
        f"FROM {events} WHERE feature IS NOT NULL GROUP BY feature) AS f "
        "ON e.feature = f.feature AND e.timestamp = f.first_at "
        "QUALIFY row_number() OVER (PARTITION BY e.feature ORDER BY e.account_id) = 1"
    )


def _new_features(known: pa.Table | None, now: pa.Table | None) -> bool:
    """Whether a product feature was used for the first time: that changes every account's
    count of the features available, so everyone is scored again."""
    if known is None or now is None:
        return known is not now
    return bool(set(now["feature"].to_pylist()) - set(known["feature"].to_pylist()))


def _subset(
    dataset: Dataset, accounts: list[str], rollups: DailyRollups, first_use: pa.Table | None
) -> Dataset:
    """A copy of ``dataset`` for the features of ``accounts``, in a connection of its own: their
    rows and their daily roll-ups of events (:data:`DAILY_STEPS`, under :func:`rollup_table`
    names), which are all that their features read of their events; and of the events, only the
    first use of each product feature (``first_use``), so that data-wide counts stay those of
    the whole data."""
    rows: dict[str, pa.Table] = {}
    dataset.con.register("__vitals_touched", pa.table({"account_id": accounts}))
    try:
        for name in dataset.files:
            among = "false" if name == "events" else AMONG_TOUCHED
            rows[name] = dataset.con.sql(
                f"SELECT * FROM {quote(name)} WHERE {among}"
            ).to_arrow_table()
        daily = rollups.of("__vitals_touched")
    finally:
        dataset.con.unregister("__vitals_touched")
    if first_use is not None:
        events = rows["events"]
        rows["events"] = first_use.select(events.column_names).cast(events.schema)
    con = quiet_connection()
    # a few thousand accounts' rows: one thread does it in about the same time with less CPU,
    # which the server beside the worker needs
    con.execute("SET threads = 1")
    for name, table in rows.items():  # read where they are: copying them in cost more
        con.register(name, table)
    for step, table in daily.items():
        con.register(rollup_table(step), table)
    return Dataset(dataset.path, con, dict(dataset.files), dict(dataset.added_columns))
