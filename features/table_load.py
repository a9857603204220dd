"""Reading one contract table's file into a typed DuckDB table, checking it on the way.

:class:`TableLoad` opens a Parquet or CSV file with DuckDB, checks the header and the columns
against the data contract, converts each column in SQL, and either raises on the first bad value
(a plain load) or keeps every row with what was wrong with it (a validation load: :data:`ROW` and
:data:`BAD` columns, and :class:`LoadIssue` entries).
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
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
from vitals.features.contract import DUCKDB_TYPES, Column, Table

log = logging.getLogger(__name__)

#: Validation loads only: the 1-based data row of the source file.
ROW = "_row"
#: Validation loads only: the contract columns of the row whose value could not be read.
BAD = "_bad_values"


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


class Unreadable(Exception):
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


class TableLoad:
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
            raise Unreadable(f"{self.file.name}: cannot be read: {_first_lines(err)}") from err
        return {row[0]: row[1] for row in described}

    def _stage_csv(self) -> None:
        with self.file.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
        if not header:
            raise Unreadable(f"{self.file.name}: no header row", "missing_header")
        if not set(header) & set(self.table.column_names):
            raise Unreadable(self._no_header(header), "missing_header")
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            raise Unreadable(f"{self.file.name}: header repeats column {_show(duplicates[0])}")
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
            raise Unreadable(f"{self.file.name}: cannot be loaded: {_first_lines(err)}") from err
        log.debug("loaded %s from %s (added columns: %s)", self.table.name, self.file, added)

    def _extras(self, source_types: dict[str, str]) -> list[str]:
        """Select items of the extra columns; CSV text that is all numbers is read as numbers."""
        extras = [name for name in source_types if name not in self.table.column_names]
        if not extras or self.file.suffix == ".parquet":
            return [quote(name) for name in extras]
        probe = ", ".join(extra_type_probe(name) for name in extras)
        counts = self.con.execute(f"SELECT {probe} FROM {self.scan}").fetchall()[0]
        return [extra_expr(name, *counts[3 * i : 3 * i + 3]) for i, name in enumerate(extras)]
