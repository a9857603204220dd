"""Checking a batch of ingested rows with the same rules as ``vitals validate``.

A batch is a few rows per contract table, as JSON objects. It is checked against the data it
extends (the data directory plus the rows ingested before): every row rule of the data contract
applies (:mod:`vitals.features.rules`), account references may name an account of the base or of
the batch, and an ``account_id`` already in the base is refused as not unique (a known ticket or
subscription line is an update: see :mod:`vitals.features.ingested_rows`).
Valid rows come back typed exactly as the base table's columns, ready to be stored as a
segment (:mod:`vitals.features.ingested`); every other row is listed with its rule and field.

The rows go through the loader that reads a data directory (each table written as a CSV file of
text values, so a value is read and converted exactly as in a file), then through the
validator's :class:`~vitals.features.rule_checker.RuleChecker`.
"""

from __future__ import annotations

import csv
import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from vitals.features.casting import WHAT, quote
from vitals.features.contract import TABLES
from vitals.features.loader import Dataset, load_for_validation, quiet_connection
from vitals.features.rule_checker import RuleChecker, utc_naive
from vitals.features.rules import REFERENCING, RowRule, all_rules, reference_rule
from vitals.features.table_load import ROW

_KNOWN_ACCOUNTS = "__vitals_known_accounts"
_BASE_ACCOUNTS = "__vitals_base_accounts"
#: Loader problems that reject every row of their table.
_WHOLE_TABLE = ("missing_column", "unreadable_file")


class BatchError(ValueError):
    """The batch as a whole is malformed (an unknown table or field, a value of no JSON scalar
    type); the message names the table, row and field."""


@dataclass(frozen=True)
class Rejection:
    """One rejected row: its table, its position in the batch's list (from 0), and why."""

    table: str
    index: int
    rule: str
    field: str | None
    message: str


@dataclass
class CheckedBatch:
    """A checked batch: the valid rows per table (typed like the base) and the rejected ones."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def accepted(self) -> dict[str, int]:
        """Valid rows per table."""
        return {name: table.num_rows for name, table in self.tables.items()}


class BatchChecker:
    """Checks batches against the data they extend, one batch at a time.

    The checker keeps one scratch DuckDB database, the column types of the base tables and the
    base's account ids from batch to batch: the base only gains rows, or a table it lacked (see
    :func:`~vitals.features.ingested_rows.append_batches`), so a table's columns are read once
    it is there, and its account ids again only when it has more. Each check runs on a cursor
    of its own, whose temporary tables and views (registered Arrow tables too) go when it
    closes; the batch's tables are dropped by the next check's load, like every contract table
    already there.

    Args:
        base: the loaded data the batches extend (the directory and what was ingested before).
    """

    def __init__(self, base: Dataset) -> None:
        self.base = base
        self._scratch = quiet_connection()
        self._types: dict[str, dict[str, str]] = {}
        self._accounts = pa.table({"account_id": pa.array([], pa.string())})

    def check(
        self, rows: Mapping[str, Sequence[Mapping[str, Any]]], now: datetime | None = None
    ) -> CheckedBatch:
        """Check a batch against every row rule, given the base data.

        Args:
            rows: per contract table, the rows as JSON objects (field -> scalar).
            now: stamps after this are in the future; default the current time (UTC).

        Returns:
            The valid rows and the rejected ones.

        Raises:
            BatchError: a table that is not in the data contract, a field that is not a column
                of its table, or a value that is not a JSON scalar.
        """
        present = {name: list(items) for name, items in rows.items() if items}
        for name in present:
            if name not in TABLES:
                raise BatchError(
                    f"{name!r} is not a table of the data contract ({', '.join(TABLES)})"
                )
        con = self._scratch.cursor()
        try:
            return self._check(con, present, now)
        finally:
            con.close()

    def _base_types(self, table: str) -> dict[str, str]:
        """The base table's columns and their DuckDB types, in order (empty without the table)."""
        if not self.base.has(table):
            return {}
        if table not in self._types:
            described = f"SELECT column_name, column_type FROM (DESCRIBE {quote(table)})"
            self._types[table] = dict(self.base.con.execute(described).fetchall())
        return self._types[table]

    def _base_accounts(self) -> pa.Table:
        """The base's account ids (``account_id``), read again only when it has more."""
        count = self.base.con.execute("SELECT count(*) FROM accounts").fetchall()[0][0]
        if count != self._accounts.num_rows:
            self._accounts = self.base.con.sql("SELECT account_id FROM accounts").to_arrow_table()
        return self._accounts

    def close(self) -> None:
        """Close the scratch database."""
        self._scratch.close()

    def _check(
        self,
        con: duckdb.DuckDBPyConnection,
        present: dict[str, list[Mapping[str, Any]]],
        now: datetime | None,
    ) -> CheckedBatch:
        with tempfile.TemporaryDirectory(prefix="vitals-batch-") as folder:
            columns = {name: self._columns(name) for name in present}
            for name, items in present.items():
                _write_csv(Path(folder) / f"{name}.csv", name, items, columns[name])
            batch, issues = load_for_validation(folder, con)
        # a table whose file-level problem stops every row (a required field never given)
        whole = {i.table: i for i in issues if i.rule in _WHOLE_TABLE and i.table in present}
        own_accounts = batch.has("accounts") and "accounts" not in whole
        checker = _checker(con, batch, self._base_accounts(), own_accounts)
        checker.apply_all(issues, _rules(batch, now) + self._extra_type_rules(batch))
        if own_accounts:
            _refuse_orphans(checker, batch)
        rejected = [
            Rejection(table, row - 1, rule, column, _message(table, rule, column, message))
            for table, row, rule, column, message in checker.offences()
        ]
        for name, issue in whole.items():
            rejected += [
                Rejection(name, i, issue.rule, issue.column, issue.message)
                for i in range(len(present[name]))
            ]
        tables = {
            name: self._typed(con, name, {r.index for r in rejected if r.table == name})
            for name in batch.files
            if name not in whole
        }
        return CheckedBatch(tables, sorted(rejected, key=lambda r: (r.table, r.index, r.rule)))

    def _columns(self, table: str) -> list[str]:
        """The columns a batch row of ``table`` may have: the base table's, or the contract's."""
        return list(self._base_types(table)) or TABLES[table].column_names

    def _extra_type_rules(self, batch: Dataset) -> list[RowRule]:
        """Rules that each extra column's values read as the type the data gives that column."""
        rules = []
        for table in batch.files:
            for column, kind in self._base_types(table).items():
                if column in TABLES[table].column_names or kind == "VARCHAR":
                    continue
                col = quote(column)
                where = f"{col} IS NOT NULL AND TRY_CAST({col} AS {kind}) IS NULL"
                message = f"{table}.{column} is not a {kind} value, the type it has in the data"
                rules.append(RowRule(table, "bad_value", column, where, message, (column,)))
        return rules

    def _typed(self, con: duckdb.DuckDBPyConnection, table: str, refused: set[int]) -> pa.Table:
        """The valid rows of ``table``, in the base table's columns and types.

        Raises:
            BatchError: an extra column's value cannot be read as the base column's type.
        """
        types = self._base_types(table)
        select = ", ".join(
            f"CAST({quote(n)} AS {types[n]}) AS {quote(n)}" if n in types else quote(n)
            for n in self._columns(table)
        )
        where = f"WHERE {ROW} NOT IN ({', '.join(str(i + 1) for i in sorted(refused))})"
        try:
            return con.sql(
                f"SELECT {select} FROM {quote(table)} {where if refused else ''} ORDER BY {ROW}"
            ).to_arrow_table()
        except duckdb.ConversionException as err:
            raise BatchError(f"{table}: {str(err).splitlines()[0]}") from None


def _message(table: str, rule: str, column: str | None, message: str) -> str:
    """The rule's message; for a value that could not be read, what was expected (the loader's
    message names a file and row of its own)."""
    if rule != "bad_value" or column is None or column not in TABLES[table].column_names:
        return message
    return f"{table}.{column} is not {WHAT[TABLES[table].column(column).type]}"


def _write_csv(path: Path, table: str, items: list[Mapping[str, Any]], columns: list[str]) -> None:
    known = set(columns)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise BatchError(f"{table}[{index}] is not an object of field -> value")
            unknown = sorted(set(item) - known)
            if unknown:
                raise BatchError(
                    f"{table}[{index}]: field {unknown[0]!r} is not a column of {table} "
                    f"(its columns: {', '.join(columns)})"
                )
            writer.writerow([_text(table, index, c, item.get(c)) for c in columns])


def _text(table: str, index: int, column: str, value: Any) -> str:
    """A JSON scalar as the text a CSV file would hold (``None`` as an empty field)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise BatchError(f"{table}[{index}].{column}: {value} is not a finite number")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise BatchError(
        f"{table}[{index}].{column}: expected a string, number, boolean or null, "
        f"got {type(value).__name__}"
    )


def _checker(
    con: duckdb.DuckDBPyConnection, batch: Dataset, base_accounts: pa.Table, own_accounts: bool
) -> RuleChecker:
    """A checker whose account references see the base's accounts and (with ``own_accounts``)
    the batch's own accounts that no rule has refused so far."""
    con.register(_BASE_ACCOUNTS, base_accounts)
    checker = RuleChecker(con, batch, accounts=_KNOWN_ACCOUNTS)
    kept = (
        f"UNION ALL SELECT account_id FROM accounts a WHERE NOT {checker.hit('accounts', 'a')}"
        if own_accounts
        else ""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {_KNOWN_ACCOUNTS} AS "
        f"SELECT account_id FROM {_BASE_ACCOUNTS} {kept}"
    )
    return checker


def _refuse_orphans(checker: RuleChecker, batch: Dataset) -> None:
    """Refuse rows naming an account of the batch that a rule refused, until none is left (an
    account refused after its rows were checked would leave them pointing nowhere)."""
    references = [reference_rule("accounts", "parent_id")]
    references += [reference_rule(t) for t in REFERENCING if batch.has(t)]
    orphans = [
        RowRule(
            ref.table,
            "orphaned",
            ref.column,
            ref.where,
            f"{ref.table}.{ref.column} names an account refused in this batch",
            ref.uses,
        )
        for ref in references
    ]
    while sum(checker.apply(rule, kept_only=True) for rule in orphans):
        pass


def _rules(batch: Dataset, now: datetime | None) -> list[RowRule]:
    """The contract's rules that can run on the batch (references always can), and the rule
    that account ids are new."""

    def readable(table: str, columns: tuple[str, ...]) -> bool:
        added = batch.added_columns.get(table, [])
        return batch.has(table) and not any(c in added for c in columns)

    rules = [r for r in all_rules(utc_naive(now)) if readable(r.table, r.uses)]
    if readable("accounts", ("account_id",)):
        where = f"account_id IN (SELECT account_id FROM {_BASE_ACCOUNTS})"
        message = "accounts.account_id already exists: an account is added once"
        rules.append(
            RowRule("accounts", "unique_account_id", "account_id", where, message, ("account_id",))
        )
    return rules
