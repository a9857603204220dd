"""Loading a data directory into DuckDB, every table typed as the data contract declares.

Files are read by DuckDB itself (``read_parquet``, ``read_csv`` with every column read as text)
and converted in SQL, so nothing passes through pandas. Row numbers in messages count data rows
from 1, the CSV header not included.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from vitals.features.casting import (
    WHAT,
    Conversion,
    convert,
    extra_expr,
    extra_type_probe,
    literal,
    quote,
)
from vitals.features.contract import DUCKDB_TYPES, TABLES, Column, Table

log = logging.getLogger(__name__)

#: Validation loads only: the 1-based data row of the source file.
ROW = "_row"
#: Validation loads only: the contract columns of the row whose value could not be read.
BAD = "_bad_values"
FORMATS = (".parquet", ".csv")
#: The date column whose values after the data's last day are scheduled ends (still running).
SCHEDULED_END = ("subscriptions", "end_date")
#: Stamps more than this many days before the bulk of their table (with no stamp in between)
#: are outliers (the default snapshot dates give the first 90 days to warm-up).
OUTLIER_GAP_DAYS = 90
#: The share of a table's rows that always belongs to its bulk when looking for early outliers.
OUTLIER_SHARE = 0.05


class DataContractError(ValueError):
    """The data directory breaks the data contract; the message names file, column and row."""


@dataclass
class LoadIssue:
    """A contract problem met by a lenient (validation) load, reported instead of raised."""

    table: str
    rule: str
    message: str
    column: str | None = None
    count: int = 1
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Dataset:
    """A data directory loaded into DuckDB: one table per present contract table.

    Attributes:
        path: the data directory.
        con: the DuckDB connection holding the tables, each named like its contract table.
        files: present tables and the file each was read from.
        added_columns: per table, the contract columns its file lacked, added as typed NULLs.
    """

    path: Path
    con: duckdb.DuckDBPyConnection
    files: dict[str, Path]
    added_columns: dict[str, list[str]] = field(default_factory=dict)

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
    con.execute("SET enable_progress_bar = false")
    return con


def load_dataset(path: str | Path, con: duckdb.DuckDBPyConnection | None = None) -> Dataset:
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

    Returns:
        The loaded dataset.

    Raises:
        DataContractError: a required table is missing, a table has both a CSV and a Parquet
            file, a file cannot be read, a required column is missing, or a value cannot be
            read as its contract type (the message names the file, column and first bad row).
    """
    dataset, _ = _load(Path(path), con or quiet_connection(), lenient=False)
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
    root: Path, con: duckdb.DuckDBPyConnection, lenient: bool
) -> tuple[Dataset, list[LoadIssue]]:
    files, issues = _discover(root)
    if issues and not lenient:
        raise DataContractError(issues[0].message)
    dataset = Dataset(root, con, {})
    for name, table in TABLES.items():
        _drop_relation(con, name)
        if name not in files:
            continue
        try:
            added, table_issues = _TableLoad(con, table, files[name], lenient).run()
        except _Unreadable as err:
            if not lenient:
                raise DataContractError(str(err)) from err
            issues.append(LoadIssue(name, err.rule, str(err)))
            continue
        dataset.files[name] = files[name]
        dataset.added_columns[name] = added
        issues.extend(table_issues)
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


def _drop_relation(con: duckdb.DuckDBPyConnection, name: str) -> None:
    kinds = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = current_schema() "
        "AND table_name = ?",
        [name],
    ).fetchall()
    for (kind,) in kinds:
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {quote(name)}")


class _Unreadable(Exception):
    """A file that cannot be read at all (its message is the report line).

    Attributes:
        rule: the rule id of the problem (``unreadable_file`` unless more is known).
    """

    def __init__(self, message: str, rule: str = "unreadable_file"):
        super().__init__(message)
        self.rule = rule


def _first_lines(err: Exception) -> str:
    """DuckDB's message up to its hints, on one line."""
    lines = []
    for line in str(err).splitlines():
        if not line.strip():
            continue
        if line.startswith(("Possible", "LINE ", "*")):
            break
        lines.append(line.strip())
    return "; ".join(lines).removeprefix("Invalid Input Error: ")


#: A time of day followed by text that is not an offset: a zone name (``Europe/Berlin``,
#: ``CET``) that DuckDB's TIMESTAMP cast would drop, reading the local time as UTC.
_ZONE_NAME_SQL = r"\d:\d\d(:\d\d(\.\d*)?)?\s*[A-Za-z\[]"
#: The suffixes that do say UTC.
_UTC_SUFFIX_SQL = r"\d\s*(?i:z|utc|gmt)\s*$"
ZONE_NAME_HINT = (
    "a time zone name is not read (it is ambiguous); give the time in UTC, "
    "or with its UTC offset such as +02:00"
)


def _has_zone_name(value: object) -> bool:
    """Whether a text stamp names a time zone, as the SQL of :func:`_without_zone_names` finds."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(re.search(_ZONE_NAME_SQL, text)) and not re.search(_UTC_SUFFIX_SQL, text)


def _without_zone_names(
    column: Column, source_type: str, conv: Conversion | None
) -> Conversion | None:
    """``conv``, with text stamps carrying a time zone name read as bad values, not as UTC.

    The contract's stamps are ISO-8601 in UTC, or with an explicit offset (converted to UTC).
    A zone *name* after the time (``2025-01-01T01:00:00 Europe/Berlin``) would otherwise be
    dropped without a word, so such a value is refused; ``Z``, ``UTC`` and ``GMT`` are UTC.
    """
    if conv is None or source_type != "VARCHAR" or column.type not in ("timestamp", "date"):
        return conv
    text = f"trim({quote(column.name)})"
    named = (
        f"(regexp_matches({text}, {literal(_ZONE_NAME_SQL)}) "
        f"AND NOT regexp_matches({text}, {literal(_UTC_SUFFIX_SQL)}))"
    )
    failed = named if conv.failed is None else f"(({conv.failed}) OR {named})"
    return Conversion(f"CASE WHEN {named} THEN NULL ELSE {conv.expr} END", failed)


def _show(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


class _TableLoad:
    """Reads one table's file into DuckDB, converting its contract columns."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: Table, file: Path, lenient: bool):
        self.con = con
        self.table = table
        self.file = file
        self.lenient = lenient
        self.stage = f"__vitals_raw_{table.name}"
        self.issues: list[LoadIssue] = []

    def run(self) -> tuple[list[str], list[LoadIssue]]:
        """Create the table; return the contract columns added as NULL and the problems met."""
        source_types = self._open()
        try:
            added = self._missing_columns(source_types)
            conversions = {
                c.name: _without_zone_names(
                    c, source_types[c.name], convert(c, source_types[c.name])
                )
                for c in self.table.columns
                if c.name in source_types
            }
            failed = self._check(conversions, source_types)
            self._create(conversions, added, failed, source_types)
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {quote(self.stage)}")
        return added, self.issues

    def _open(self) -> dict[str, str]:
        """Make the file scannable; return its columns and their DuckDB types."""
        try:
            if self.file.suffix == ".parquet":
                self.scan = f"read_parquet({literal(str(self.file))})"
                self.rows_scan = (
                    f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW} "
                    f"FROM read_parquet({literal(str(self.file))}, file_row_number = true))"
                )
            else:
                self._stage_csv()
                self.scan = quote(self.stage)
                self.rows_scan = f"(SELECT *, rowid + 1 AS {ROW} FROM {quote(self.stage)})"
            described = self.con.execute(f"DESCRIBE SELECT * FROM {self.scan}").fetchall()
        except (duckdb.Error, OSError, UnicodeDecodeError) as err:
            raise _Unreadable(f"{self.file.name}: cannot be read: {_first_lines(err)}") from err
        return {row[0]: row[1] for row in described}

    def _stage_csv(self) -> None:
        with self.file.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
        if not header:
            raise _Unreadable(f"{self.file.name}: no header row", "missing_header")
        if not set(header) & set(self.table.column_names):
            raise _Unreadable(self._no_header(header), "missing_header")
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            raise _Unreadable(f"{self.file.name}: header repeats column {_show(duplicates[0])}")
        columns = ", ".join(f"{literal(name)}: 'VARCHAR'" for name in header)
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quote(self.stage)} AS SELECT * FROM read_csv("
            f"{literal(str(self.file))}, header = true, columns = {{{columns}}}, delim = ',', "
            "quote = '\"', escape = '\"', auto_detect = false)"
        )

    def _no_header(self, first_line: list[str]) -> str:
        """The message for a CSV file whose first line names none of the contract columns."""
        expected = ", ".join(self.table.column_names)
        shown = ", ".join(_show(value) for value in first_line[:8])
        more = f", ... ({len(first_line)} values)" if len(first_line) > 8 else ""
        return (
            f"{self.file.name}: the first line is not a header row: it names none of the "
            f"columns {expected} (found {shown}{more}); add the header row"
        )

    def _missing_columns(self, source_types: dict[str, str]) -> list[str]:
        missing = [c for c in self.table.columns if c.name not in source_types]
        where = "header lacks" if self.file.suffix == ".csv" else "lacks"
        for column in (c for c in missing if c.required):
            message = (
                f"{self.file.name}: {where} required column {_show(column.name)} "
                f"(has {', '.join(source_types)})"
            )
            if not self.lenient:
                raise DataContractError(message)
            self.issues.append(LoadIssue(self.table.name, "missing_column", message, column.name))
        return [c.name for c in missing]

    def _check(
        self, conversions: dict[str, Conversion | None], source_types: dict[str, str]
    ) -> dict[str, str]:
        """Find values that cannot be read; return the failure predicate of each failing column."""
        checks = {
            name: f"{quote(name)} IS NOT NULL" if conv is None else conv.failed
            for name, conv in conversions.items()
            if conv is None or conv.failed is not None
        }
        if not checks:
            return {}
        aggregates = ", ".join(
            f"count_if({pred}), min(CASE WHEN {pred} THEN {ROW} END)" for pred in checks.values()
        )
        counts = self.con.execute(f"SELECT {aggregates} FROM {self.rows_scan}").fetchall()[0]
        failing = {
            name: (counts[2 * i], counts[2 * i + 1])
            for i, name in enumerate(checks)
            if counts[2 * i]
        }
        if failing and not self.lenient:
            name, (_, row) = min(failing.items(), key=lambda item: item[1][1])
            value = self.con.execute(
                f"SELECT {quote(name)} FROM {self.rows_scan} WHERE {ROW} = ?", [row]
            ).fetchall()[0][0]
            raise DataContractError(self._bad_value(name, row, value, source_types[name]))
        for name, (count, first) in failing.items():
            examples = self.con.execute(
                f"SELECT {ROW}, {quote(name)} FROM {self.rows_scan} WHERE {checks[name]} "
                f"ORDER BY {ROW} LIMIT 5"
            ).fetchall()
            value = examples[0][1]
            message = (
                f"{self._bad_value(name, first, value, source_types[name])} "
                f"({count} such value{'s' if count > 1 else ''})"
            )
            self.issues.append(
                LoadIssue(
                    self.table.name,
                    "bad_value",
                    message,
                    name,
                    count,
                    [{"row": row, name: val} for row, val in examples],
                )
            )
        return {name: checks[name] for name in failing}

    def _bad_value(self, name: str, row: int, value: object, source_type: str) -> str:
        what = WHAT[self.table.column(name).type]
        if source_type == "VARCHAR" and _has_zone_name(value):
            problem = f"is not {what}: {ZONE_NAME_HINT}"
        elif source_type == "VARCHAR":
            problem = f"is not {what}"
        else:
            problem = f"({source_type}) cannot be read as {what}"
        return f"{self.file.name}: column {_show(name)}, row {row}: {_show(value)} {problem}"

    def _create(
        self,
        conversions: dict[str, Conversion | None],
        added: list[str],
        failed: dict[str, str],
        source_types: dict[str, str],
    ) -> None:
        select = []
        for column in self.table.columns:
            conv = conversions.get(column.name)
            expr = f"CAST(NULL AS {DUCKDB_TYPES[column.type]})" if conv is None else conv.expr
            select.append(f"{expr} AS {quote(column.name)}")
        select += self._extras(source_types)
        source = self.scan
        if self.lenient:
            flags = ", ".join(
                f"CASE WHEN {pred} THEN {literal(n)} END" for n, pred in failed.items()
            )
            select += [ROW, f"CAST([{flags}] AS VARCHAR[]) AS {BAD}"]
            source = self.rows_scan
        try:
            self.con.execute(
                f"CREATE TABLE {quote(self.table.name)} AS SELECT {', '.join(select)} FROM {source}"
            )
        except duckdb.Error as err:
            raise _Unreadable(f"{self.file.name}: cannot be loaded: {_first_lines(err)}") from err
        log.debug("loaded %s from %s (added columns: %s)", self.table.name, self.file, added)

    def _extras(self, source_types: dict[str, str]) -> list[str]:
        """Select items of the extra columns; CSV text that is all numbers is read as numbers."""
        extras = [name for name in source_types if name not in self.table.column_names]
        if not extras or self.file.suffix == ".parquet":
            return [quote(name) for name in extras]
        probe = ", ".join(extra_type_probe(name) for name in extras)
        counts = self.con.execute(f"SELECT {probe} FROM {self.scan}").fetchall()[0]
        return [extra_expr(name, *counts[3 * i : 3 * i + 3]) for i, name in enumerate(extras)]
