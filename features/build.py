"""Build point-in-time feature snapshots with churn labels: the public entry point of the stage."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vitals.features import event_queries, queries
from vitals.features.atomic import atomic_target
from vitals.features.catalog import FeatureSet, FeatureSpec, KeyEvent, Vocabulary
from vitals.features.contract import TABLES
from vitals.features.dates import Step, from_day, parse_every, snapshot_dates, to_day
from vitals.features.definitions import Feature
from vitals.features.engines import ENGINES, DuckDBEngine, Engine, SparkEngine
from vitals.features.families import feature_set
from vitals.features.families.vocabulary import CountedItem, counted_items

if TYPE_CHECKING:
    from vitals.features.loader import Dataset

logger = logging.getLogger(__name__)

MAX_VOCABULARY = 40  # event types and product features counted one by one, each
CATALOG_METADATA_KEY = b"vitals.snapshots"
ID_COLUMNS = ("account_id", "as_of", "parent_id")
LABEL_COLUMNS = ("churned_within_horizon", "churn_date")


@dataclass
class Snapshots:
    """Feature snapshots: one row per (account, as_of), every feature, and the label columns."""

    table: pa.Table
    catalog: list[FeatureSpec]
    vocabulary: Vocabulary
    horizon_days: int
    grace_days: int
    data_end: date
    engine: str = "duckdb"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def feature_set(self) -> FeatureSet:
        """The declared set of these snapshots' features."""
        return FeatureSet(tuple(self.catalog), self.vocabulary, self.horizon_days, self.grace_days)

    @property
    def feature_names(self) -> list[str]:
        """Names of the feature columns, in catalog order."""
        return [spec.name for spec in self.catalog]

    def to_pandas(self) -> pd.DataFrame:
        """The snapshot table as a pandas DataFrame."""
        return self.table.to_pandas()

    def metadata(self) -> dict[str, object]:
        """What a reader needs besides the table: catalog, key features, horizon, data end."""
        return {
            "catalog": [spec.to_dict() for spec in self.catalog],
            "vocabulary": self.vocabulary.to_dict(),
            "horizon_days": self.horizon_days,
            "grace_days": self.grace_days,
            "data_end": self.data_end.isoformat(),
            "engine": self.engine,
        }


def data_end_day(dataset: Dataset) -> int:
    """Day number just after the last day holding data (labels and snapshots stop there)."""
    return to_day(dataset.data_end) + 1


def default_dates(
    dataset: Dataset, start: date | None = None, end: date | None = None, every: str = "1mo"
) -> list[date]:
    """Snapshot dates from ``start`` (default: 90 days after the first event) to ``end``.

    ``end`` defaults to the day after the last data.

    Raises:
        ValueError: on an unparsable ``every`` or ``start`` after ``end``.
    """
    step: Step = parse_every(every)
    last = end or from_day(data_end_day(dataset))
    first = start or (_data_start(dataset) + timedelta(days=90))
    return snapshot_dates(first, last, step)


def _data_start(dataset: Dataset) -> date:
    """The first day of the bulk of product activity (a few stray events long before the rest
    are ignored, see ``Dataset.activity_start``)."""
    first = dataset.activity_start
    return first.date() if first is not None else from_day(data_end_day(dataset))


def discover_vocabulary(
    dataset: Dataset,
    before: date,
    *,
    max_event_types: int = MAX_VOCABULARY,
    max_features: int = MAX_VOCABULARY,
    key_events: Sequence[KeyEvent] = (),
) -> Vocabulary:
    """The event types and product features to count one by one: the most used, by volume.

    Only events stamped before ``before`` (the first snapshot date) are looked at, so the choice
    of columns never depends on what happens after any snapshot. What is not kept is counted
    together as "other".
    """

    def most_used(column: str, limit: int) -> tuple[list[str], bool]:
        rows = dataset.con.execute(
            f"SELECT {column} FROM events WHERE {column} IS NOT NULL AND timestamp < ? "
            "GROUP BY 1 ORDER BY COUNT(*) DESC, 1",
            [before],
        ).fetchall()
        return [r[0] for r in rows[:limit]], len(rows) > limit

    event_types, other_types = most_used("event_type", max_event_types)
    features, other_features = most_used("feature", max_features)
    return Vocabulary(
        tuple(event_types), tuple(features), tuple(key_events), other_types, other_features
    )


def account_attributes(dataset: Dataset) -> tuple[list[str], list[str]]:
    """Extra (non-contract) columns of ``accounts``: (categorical, numeric) names."""
    contract = set(TABLES["accounts"].column_names)
    categorical, numeric = [], []
    for name, dtype, *_ in dataset.con.execute("DESCRIBE accounts").fetchall():
        if name in contract:
            continue
        if dtype == "VARCHAR":
            categorical.append(name)
        elif dtype in {
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "FLOAT",
            "DOUBLE",
        } or dtype.startswith("DECIMAL"):
            numeric.append(name)
    return categorical, numeric


def build_features(
    dataset: Dataset,
    as_of: Sequence[date],
    *,
    horizon_days: int = 90,
    grace_days: int = 30,
    engine: str = "duckdb",
    spark_master: str = "local[2]",
    vocabulary: Vocabulary | None = None,
    daily: Mapping[str, str] | None = None,
) -> Snapshots:
    """Compute every feature and the churn label for each customer at each ``as_of`` date.

    A snapshot at ``as_of`` reads only data stamped strictly before ``as_of``; its label says
    whether the account churned within ``horizon_days`` after it (null when censored).

    Args:
        dataset: a loaded data directory (``vitals.features.loader.load_dataset``).
        as_of: snapshot dates.
        horizon_days: label horizon.
        grace_days: a gap shorter than this between subscriptions is not a churn.
        engine: ``duckdb`` (in-process) or ``spark``.
        spark_master: Spark master URL when ``engine`` is ``spark``.
        vocabulary: the event types, product features and key events counted one by one
            (default: :func:`discover_vocabulary` before the first snapshot date).
        daily: the relations of the dataset's connection that hold the per-account daily
            roll-ups of events, by step name (``DailyRollups.tables``), read instead of rolling
            the events up again (DuckDB engine only).

    Raises:
        ValueError: on an unknown engine, no dates, or ``daily`` on another engine.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if daily and engine != "duckdb":
        raise ValueError("daily roll-ups are relations of the DuckDB connection: engine duckdb")
    dates = sorted(set(as_of))
    if not dates:
        raise ValueError("no snapshot dates: widen --start/--end")
    vocab = vocabulary if vocabulary is not None else discover_vocabulary(dataset, dates[0])
    categorical, numeric = account_attributes(dataset)
    present = {t for t in TABLES if dataset.has(t)}
    features = feature_set(present, vocab, categorical, numeric)
    end_day = data_end_day(dataset)
    runner = _engine(engine, dataset, present, spark_master)
    try:
        runner.register("snap_dates", _asof_table(dates))
        needed = {c for f in features for c in re.findall(r"\be\.(\w+)", f.sql)}
        windows = (to_day(dates[0]), end_day, horizon_days, grace_days)
        items = counted_items(vocab)
        steps = _steps(needed, present, items, categorical + numeric, windows)
        final = queries.snapshot_query(features, present)
        released = _last_readers(steps, final)
        for index, (name, sql) in enumerate(steps):
            if daily and name in daily:
                cast(DuckDBEngine, runner).alias(name, daily[name])
            else:
                runner.materialize(name, sql)
            for done in released.get(index, []):
                runner.release(done)
        raw = runner.fetch(final)
    finally:
        runner.close()
    table = _finish(raw, features)
    logger.info("built %d snapshots x %d features on %s", table.num_rows, len(features), engine)
    return Snapshots(
        table,
        [f.spec for f in features],
        vocab,
        horizon_days,
        grace_days,
        from_day(end_day),
        engine,
    )


def build_feature_set(
    dataset: Dataset,
    feature_set: FeatureSet,
    as_of: Sequence[date],
    *,
    engine: str = "duckdb",
    spark_master: str = "local[2]",
    daily: Mapping[str, str] | None = None,
) -> Snapshots:
    """Snapshots of ``feature_set`` (a model's: its vocabulary, horizon and grace) at ``as_of``;
    see :func:`build_features`."""
    return build_features(
        dataset,
        as_of,
        horizon_days=feature_set.horizon_days,
        grace_days=feature_set.grace_days,
        engine=engine,
        spark_master=spark_master,
        vocabulary=feature_set.vocabulary,
        daily=daily,
    )


def _engine(name: str, dataset: Dataset, present: set[str], master: str) -> Engine:
    if name == "spark":
        return SparkEngine(dataset.con, sorted(present), master)
    return DuckDBEngine(dataset.con)


def _asof_table(dates: list[date]) -> pa.Table:
    return pa.table(
        {
            "as_of_day": pa.array([to_day(d) for d in dates], pa.int32()),
            "y": pa.array([d.year for d in dates], pa.int32()),
            "m": pa.array([d.month for d in dates], pa.int32()),
            "d": pa.array([d.day for d in dates], pa.int32()),
        }
    )


def _steps(
    needed: set[str],
    present: set[str],
    items: list[CountedItem],
    extra_columns: list[str],
    windows: tuple[int, int, int, int],
) -> list[queries.Step]:
    """Every SQL step in order; ``windows`` = (first snapshot day, data end day, horizon, grace)."""
    first_day, end_day, horizon, grace = windows
    steps = queries.staging_steps(extra_columns) + event_queries.event_steps(
        items, needed, first_day
    )
    steps += queries.subscription_steps()
    if "tickets" in present:
        steps += queries.ticket_steps()
    if "surveys" in present:
        steps += queries.survey_steps()
    if "sentiment" in present:
        steps += queries.sentiment_steps()
    steps.append(queries.base_step())
    return steps + queries.label_steps(horizon, grace, end_day)


def _last_readers(steps: list[queries.Step], final: str) -> dict[int, list[str]]:
    """Step index -> the earlier steps it is the last reader of (the final query reads the rest).

    A step reads another when its SQL names it as a word; an alias that happens to share a step's
    name only keeps that step longer, never frees it early.
    """
    released: dict[int, list[str]] = {}
    for index, (name, _) in enumerate(steps):
        named = re.compile(rf"\b{name}\b")
        if named.search(final):
            continue
        readers = [i for i, (_, sql) in enumerate(steps) if i > index and named.search(sql)]
        if readers:
            released.setdefault(max(readers), []).append(name)
    return released


def _finish(raw: pa.Table, features: list[Feature]) -> pa.Table:
    """Typed output: dates as dates, numeric features as float64, categoricals as strings."""
    columns: dict[str, pa.Array] = {
        "account_id": raw["account_id"].cast(pa.string()),
        "as_of": _days_to_dates(raw["as_of_day"]),
        "parent_id": raw["parent_id"].cast(pa.string()),
    }
    for feature in features:
        target = pa.string() if feature.spec.kind == "categorical" else pa.float64()
        columns[feature.spec.name] = raw[feature.spec.name].cast(target)
    columns["churned_within_horizon"] = raw["churned_within_horizon"].cast(pa.int8())
    columns["churn_date"] = _days_to_dates(raw["churn_day"])
    return pa.table(columns)


def _days_to_dates(days: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(days.cast(pa.int32()), pa.date32())


def write_snapshots(snapshots: Snapshots, path: str | Path) -> Path:
    """Write snapshots to Parquet atomically (temporary file, then rename), catalog in metadata."""
    meta = dict(snapshots.table.schema.metadata or {})
    meta[CATALOG_METADATA_KEY] = json.dumps(snapshots.metadata()).encode()
    table = snapshots.table.replace_schema_metadata(meta)
    with atomic_target(path) as temp:
        pq.write_table(table, temp)
    return Path(path)


def read_snapshots(path: str | Path) -> Snapshots:
    """Read snapshots written by :func:`write_snapshots`.

    Raises:
        ValueError: when the file was not written by Vitals (no catalog in its metadata).
    """
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(CATALOG_METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path}: not a Vitals snapshot file (no feature catalog in its metadata)")
    meta = json.loads(raw)
    return Snapshots(
        table.replace_schema_metadata(None),
        [FeatureSpec.from_dict(d) for d in meta["catalog"]],
        Vocabulary.from_dict(meta["vocabulary"]),
        meta["horizon_days"],
        meta["grace_days"],
        date.fromisoformat(meta["data_end"]),
        meta.get("engine", "duckdb"),
    )
