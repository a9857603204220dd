"""Loading a data directory into DuckDB, every table typed as the data contract declares.

Files are read by DuckDB itself (``read_parquet``, ``read_csv`` with every column read as text)
and converted in SQL, so nothing passes through pandas. Row numbers in messages count data rows
from 1, the CSV header not included.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from vitals.features.casting import quote
from vitals.features.contract import TABLES
from vitals.features.ingested_rows import append_batches, ingested_store
from vitals.features.table_load import (
    DataContractError,
    LoadIssue,
    TableLoad,
    Unreadable,
)

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

FORMATS = (".parquet", ".csv")
#: The date column whose values after the data's last day are scheduled ends (still running).
SCHEDULED_END = ("subscriptions", "end_date")
#: Stamps more than this many days before the bulk of their table (with no stamp in between)
#: are outliers (the default snapshot dates give the first 90 days to warm-up).
OUTLIER_GAP_DAYS = 90
#: The share of a table's rows that always belongs to its bulk when looking for early outliers.
OUTLIER_SHARE = 0.05


@dataclass
class Dataset:
    """A data directory loaded into DuckDB: one table per present contract table.

    Attributes:
        path: the data directory.
        con: the DuckDB connection holding the tables, each named like its contract table.
        files: present tables and the file each was read from.
        added_columns: per table, the contract columns its file lacked, added as typed NULLs.
        ingested_through: the last ingested batch appended (0: none,
            see :mod:`vitals.features.ingested`).
    """

    path: Path
    con: duckdb.DuckDBPyConnection
    files: dict[str, Path]
    added_columns: dict[str, list[str]] = field(default_factory=dict)
    ingested_through: int = 0

    def has(self, table: str) -> bool:
        """Whether the data directory holds ``table``."""
        return table in self.files

    @property
    def data_end(self) -> datetime:
        """The latest timestamp or date (as midnight) stamped in the data, in UTC.

        A subscription's ``end_date`` does not count: it is known only from that day on, so an
        ``end_date`` after every other stamp is a scheduled term end, not data (the line is
        still running at the end of the data, see :func:`scheduled_ends`).

        Raises:
            DataContractError: when the data holds no timestamp or date at all.
        """
        parts = [
            f"SELECT max(CAST({quote(c.name)} AS TIMESTAMP)) AS m FROM {quote(name)}"
            for name in self.files
            for c in TABLES[name].columns
            if c.type in ("timestamp", "date") and (name, c.name) != SCHEDULED_END
        ]
        latest = self.con.execute(f"SELECT max(m) FROM ({' UNION ALL '.join(parts)})").fetchall()
        if latest[0][0] is None:
            raise DataContractError(f"{self.path}: the data holds no timestamp or date")
        return latest[0][0]

    @property
    def activity_start(self) -> datetime | None:
        """When the bulk of the product events starts (``None`` without events).

        The first event, unless a few events lie long before the rest (a stray test event, a
        default date such as 1970-01-01): see :func:`bulk_start_sql`. Default snapshot dates
        start from here, so that a handful of outliers cannot stretch them back by years.
        """
        if not self.has("events"):
            return None
        return self.con.execute(bulk_start_sql("events", "timestamp")).fetchall()[0][0]

    def account_tree(self) -> pd.DataFrame:
        """The account hierarchy: ``account_id, parent_id`` of every account (``parent_id``
        missing for a top-level account), as ``HealthModel.roll_up`` and ``parent_change`` read
        it."""
        return self.con.execute("SELECT account_id, parent_id FROM accounts").df()


def bulk_start_sql(table: str, column: str) -> str:
    """SQL giving the first stamp of the *bulk* of ``table.column`` (NULL for an empty column).

    That is the first stamp, unless some stamps lie before a gap of more than
    :data:`OUTLIER_GAP_DAYS` days without any stamp, a gap that comes before the first
    :data:`OUTLIER_SHARE` of the rows (in time order): then it is the first stamp after the
    last such gap, and the stamps before it are early outliers. Clean data has no such gap, so
    its bulk starts at its first stamp.
    """
    col = f"CAST({quote(column)} AS TIMESTAMP)"
    return (
        f"WITH s AS (SELECT {col} AS t FROM {quote(table)} WHERE {col} IS NOT NULL), "
        f"q AS (SELECT quantile_disc(t, {OUTLIER_SHARE}) AS t FROM s), "
        "d AS (SELECT DISTINCT CAST(s.t AS DATE) AS day FROM s, q WHERE s.t <= q.t), "
        "g AS (SELECT day, day - lag(day) OVER (ORDER BY day) AS gap FROM d), "
        f"b AS (SELECT max(day) AS day FROM g WHERE gap > {OUTLIER_GAP_DAYS}) "
        "SELECT min(s.t) FROM s, b WHERE b.day IS NULL OR s.t >= CAST(b.day AS TIMESTAMP)"
    )


def scheduled_ends(dataset: Dataset) -> tuple[int, date | None]:
    """How many subscription lines end after the data's last day, and that day.

    A line's ``end_date`` is known only from that day on, so an ``end_date`` after the data's
    last day (:attr:`Dataset.data_end`) is a scheduled term end (annual contracts are often
    exported so): as of every day of the data the line is running, and the pipeline treats it
    so (snapshots and labels stop at the data's end, and read an ``end_date`` only from that
    day on). Validation counts these lines in its ``scheduled_end`` warning.

    Returns:
        The number of lines (0 without a subscriptions table), and the data's last day
        (``None`` when the data holds no stamp).
    """
    try:
        last_day = dataset.data_end.date()
    except DataContractError:
        return 0, None
    if not dataset.has("subscriptions"):
        return 0, last_day
    count = dataset.con.execute(
        "SELECT count(*) FROM subscriptions WHERE end_date > ?", [last_day]
    ).fetchall()[0][0]
    return count, last_day


def scheduled_ends_message(count: int, last_day: date) -> str:
    """The one line saying how many lines end after the data's last day."""
    lines = "line ends" if count == 1 else "lines end"
    return (
        f"subscriptions: {count:,} {lines} after the data's last day ({last_day}); "
        "treated as still running (a scheduled end is not yet known)"
    )


def quiet_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection that draws no progress bars (logs and pipes stay clean)."""
    con = duckdb.connect()
    # in a Jupyter kernel without ipywidgets DuckDB has turned its bar off, and refuses the SET
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")
    return con


def load_dataset(
    path: str | Path,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    tables: Collection[str] | None = None,
) -> Dataset:
    """Load a data directory into DuckDB, typed as the data contract declares.

    Every present table becomes a DuckDB table named like the contract table, holding every
    contract column in its contract type (an optional column the file lacks is a typed NULL
    column) and the file's extra columns. Contract tables absent from the directory are dropped
    from ``con`` so no stale table stands in for them. Only the shape and types are checked here;
    the row rules are :func:`vitals.features.validate.validate_dataset`'s job. A subscription
    line whose ``end_date`` is after the data's last day is still running (see
    :func:`scheduled_ends`); a warning says how many lines that is.

    Args:
        path: the data directory (``<table>.parquet`` or ``<table>.csv`` per table).
        con: the connection to load into; a new in-memory one when ``None``.
        tables: load only these contract tables (with their ingested rows), e.g. to read an
            account's tickets without loading every event; all of them when ``None``. The
            dataset's ``data_end`` then covers only these tables.

    Returns:
        The loaded dataset.

    Raises:
        DataContractError: a required table is missing, a table has both a CSV and a Parquet
            file, a file cannot be read, a required column is missing, or a value cannot be
            read as its contract type (the message names the file, column and first bad row).
    """
    dataset, _ = _load(Path(path), con or quiet_connection(), lenient=False, tables=tables)
    if tables is None:  # the data's end needs every table
        count, last_day = scheduled_ends(dataset)
        if count and last_day is not None:
            log.warning(scheduled_ends_message(count, last_day))
    return dataset


def load_for_validation(
    path: str | Path, con: duckdb.DuckDBPyConnection
) -> tuple[Dataset, list[LoadIssue]]:
    """Load a data directory as far as possible, reporting contract problems instead of raising.

    Unlike :func:`load_dataset`, each table gets a :data:`ROW` column (its file row number) and
    a :data:`BAD` column (the columns whose value could not be read, now NULL); a missing
    required column is added as NULL; a table whose file cannot be read is left out.

    Args:
        path: the data directory.
        con: the connection to load into.

    Returns:
        The dataset and the problems met, with rule ids ``missing_table``, ``duplicate_file``,
        ``unreadable_file``, ``missing_column`` and ``bad_value``.
    """
    return _load(Path(path), con, lenient=True)


def _load(
    root: Path,
    con: duckdb.DuckDBPyConnection,
    lenient: bool,
    tables: Collection[str] | None = None,
) -> tuple[Dataset, list[LoadIssue]]:
    files, issues = _discover(root)
    if issues and not lenient:
        raise DataContractError(issues[0].message)
    if tables is not None and (unknown := sorted(set(tables) - set(TABLES))):
        raise ValueError(f"not tables of the data contract: {unknown}")
    dataset = Dataset(root, con, {})
    _drop_relations(con, TABLES)
    for name, table in TABLES.items():
        if name not in files or (tables is not None and name not in tables):
            continue
        try:
            added, table_issues = TableLoad(con, table, files[name], lenient).run()
        except Unreadable as err:
            if not lenient:
                raise DataContractError(str(err)) from err
            issues.append(LoadIssue(name, err.rule, str(err)))
            continue
        dataset.files[name] = files[name]
        dataset.added_columns[name] = added
        issues.extend(table_issues)
    if (store := ingested_store(root)) is not None:
        append_batches(dataset, store, store.history(), lenient=lenient, tables=tables)
    return dataset, issues


def _discover(root: Path) -> tuple[dict[str, Path], list[LoadIssue]]:
    """The file of each contract table in ``root``, and the problems with the set of files."""
    if not root.is_dir():
        raise DataContractError(f"{root}: not a data directory")
    found: dict[str, list[Path]] = {}
    for file in sorted(root.iterdir()):
        if not file.is_file() or file.suffix not in FORMATS:
            continue
        if file.stem not in TABLES:
            log.info("ignoring %s: not a table of the data contract", file.name)
            continue
        found.setdefault(file.stem, []).append(file)
    files: dict[str, Path] = {}
    issues: list[LoadIssue] = []
    for name, table in TABLES.items():
        paths = found.get(name, [])
        if len(paths) > 1:
            both = " and ".join(p.name for p in paths)
            issues.append(LoadIssue(name, "duplicate_file", f"{both} are both present: keep one"))
        elif paths:
            files[name] = paths[0]
        elif table.required:
            message = f"{root}: required table {name} is missing ({name}.parquet or {name}.csv)"
            issues.append(LoadIssue(name, "missing_table", message))
        else:
            log.info("no %s table in %s: features of that family will be missing", name, root)
    return files, issues


def _drop_relations(con: duckdb.DuckDBPyConnection, names: Collection[str]) -> None:
    """Drop the tables and views of the current schema named in ``names``."""
    found = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = current_schema()"
    ).fetchall()
    for name, kind in found:
        if name in names:
            con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {quote(name)}")
