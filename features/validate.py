"""Checking a data directory against every rule of the data contract, and quarantining bad rows.

Every offending row is recorded, in DuckDB, as (table, row, rule, column); the report counts
them per table and rule, and quarantine splits each table on them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from vitals.features.casting import literal, quote
from vitals.features.contract import TABLES
from vitals.features.loader import (
    FORMATS,
    DataContractError,
    Dataset,
    load_for_validation,
    quiet_connection,
)
from vitals.features.report import MAX_EXAMPLES, ValidationReport, Violation
from vitals.features.rules import (
    ACCOUNTS,
    CYCLE_TABLE,
    NEEDED_FOR,
    REFERENCING,
    RowRule,
    applicable,
    reference_rule,
    register_cycles,
    row_rules,
    warning_rules,
)
from vitals.features.table_load import BAD, ROW, LoadIssue

__all__ = ["ValidationReport", "Violation", "load_validated", "validate_dataset"]

log = logging.getLogger(__name__)

_HITS = "__vitals_hits"
_KEPT_ACCOUNTS = "__vitals_kept_accounts"
#: Columns added to each quarantined row.
BROKEN_RULES = "broken_rules"
SOURCE_ROW = "source_row"


def validate_dataset(
    path: str | Path, quarantine_dir: Path | None = None, now: datetime | None = None
) -> ValidationReport:
    """Check a data directory against every rule of the data contract.

    Problems with the files themselves (a missing or empty required table, a missing column
    or header row, an unreadable file, a value that cannot be read as its type) are reported as
    violations like the row rules, and the rest is still checked. Rows that are valid but
    worth a look (a subscription line ending after the data's last day, which the pipeline
    treats as still running; a stamp long before the rest of its table) are counted in the
    report's ``warnings``, which never fail it. Without ``quarantine_dir`` nothing is written or
    dropped.

    With ``quarantine_dir``, each table's offending rows go to ``quarantine_dir/<table>.parquet``
    (with a ``broken_rules`` list and the ``source_row`` number) and the kept rows to
    ``quarantine_dir/clean/<table>.parquet``. An account with some subscription lines quarantined
    and others kept is quarantined too (rule ``subscription_quarantined``): its churn label is
    derived from all its lines, and from the kept ones alone it would change silently (a live
    line set aside would make it churn). Rows that name an account quarantined for
    another rule are quarantined too (rule ``orphaned``), repeatedly until nothing changes, so
    the clean directory passes validation unless a file-level problem (missing or empty table,
    missing column, unreadable file) stands. Stale contract table files in both folders are
    removed.

    Args:
        path: the data directory.
        quarantine_dir: where to split the data into quarantined and clean rows, if anywhere.
        now: timestamps after this are in the future; naive means UTC; default the current time.

    Returns:
        The report.

    Raises:
        DataContractError: when ``path`` is not a directory, or ``quarantine_dir`` or its
            ``clean`` folder is the data directory.
    """
    con = quiet_connection()
    try:
        return _validate(con, path, quarantine_dir, now)[0]
    finally:
        con.close()


def load_validated(
    path: str | Path, now: datetime | None = None
) -> tuple[ValidationReport, Dataset | None]:
    """Validate a data directory and, when it passes, keep the validation load as the dataset.

    The files are read once: the tables loaded for validation lose their :data:`ROW` and
    :data:`BAD` columns and are then what :func:`vitals.features.loader.load_dataset` would load
    (same tables, columns, types, rows, ``files`` and ``added_columns``).

    Args:
        path: the data directory.
        now: as for :func:`validate_dataset`.

    Returns:
        The report, and the dataset when the report is ok (the caller closes its connection)
        or ``None`` when it is not.

    Raises:
        DataContractError: when ``path`` is not a directory.
    """
    con = quiet_connection()
    try:
        report, dataset = _validate(con, path, None, now)
        if report.ok:
            _drop_validation_state(dataset)
            return report, dataset
    except BaseException:
        con.close()
        raise
    con.close()
    return report, None


def _validate(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    quarantine_dir: Path | None,
    now: datetime | None,
) -> tuple[ValidationReport, Dataset]:
    """:func:`validate_dataset` on ``con``; also return the dataset loaded into it."""
    dataset, issues = load_for_validation(path, con)
    checker = RuleChecker(con, dataset)
    checker.apply_all(issues, row_rules(dataset, utc_naive(now)))
    if quarantine_dir is not None:
        checker.quarantine_orphans()
    violations = [
        Violation(i.table, i.rule, i.message, i.count, column=i.column)
        for i in issues
        if i.rule != "bad_value"
    ] + checker.violations({(i.table, i.column): i.examples for i in issues})
    kept_rows = checker.row_counts()
    violations += [
        Violation(name, "empty_table", f"{name} has no rows: {NEEDED_FOR[name]}", 1)
        for name, rows in kept_rows.items()
        if not rows and TABLES[name].required
    ]
    warnings = [w for rule in warning_rules(dataset) if (w := checker.warning(rule)) is not None]
    order = list(TABLES)
    violations.sort(key=lambda v: order.index(v.table))
    warnings.sort(key=lambda v: order.index(v.table))
    report = ValidationReport(violations, kept_rows=kept_rows, warnings=warnings)
    if quarantine_dir is not None:
        report.quarantined, report.kept_rows = checker.write(Path(quarantine_dir))
    return report, dataset


def _drop_validation_state(dataset: Dataset) -> None:
    """Leave ``dataset`` as a strict load would: no ROW / BAD columns, no validation tables.

    ``ALTER TABLE ... DROP COLUMN`` shares the other columns' storage, so it costs next to
    nothing (copying the tables without the two columns costs as much as reading them again).
    """
    for name in dataset.files:
        for column in (ROW, BAD):
            dataset.con.execute(f"ALTER TABLE {quote(name)} DROP COLUMN {column}")
    for table in (_HITS, CYCLE_TABLE):
        dataset.con.execute(f"DROP TABLE IF EXISTS {table}")


def utc_naive(now: datetime | None) -> datetime:
    """``now`` as naive UTC (aware times converted); the current time for ``None``."""
    if now is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if now.tzinfo is not None:
        return now.astimezone(UTC).replace(tzinfo=None)
    return now


def _example_rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The rows of an executed query as dicts, each with its file ``row`` number first."""
    names = [d[0] for d in cursor.description]
    examples = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        examples.append({"row": row.pop(ROW), **row})
    return examples


def _bad_value_rule(issue: LoadIssue) -> RowRule:
    column = issue.column or ""
    where = f"list_contains({BAD}, {literal(column)})"
    return RowRule(issue.table, "bad_value", column, where, issue.message, (column,))


class RuleChecker:
    """Applies rules, records the offending rows, and turns them into violations and files.

    Args:
        con: the connection holding the tables loaded by :func:`load_for_validation`.
        dataset: those tables.
        accounts: the table reference rules check account ids against.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, dataset: Dataset, accounts: str = "accounts"
    ) -> None:
        self.con = con
        self.dataset = dataset
        self.accounts = accounts
        self.rules: dict[tuple[str, str, str | None], RowRule] = {}
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_HITS} "
            f"(tbl VARCHAR, {ROW} BIGINT, rule VARCHAR, col VARCHAR)"
        )

    def apply_all(self, issues: list[LoadIssue], rules: list[RowRule]) -> None:
        """Record the values that could not be read (``issues``), then the rows breaking ``rules``
        (parent cycles registered first when the accounts' parents were read)."""
        for issue in issues:
            if issue.rule == "bad_value":
                self.apply(_bad_value_rule(issue))
        accounts = self.dataset.added_columns.get("accounts")
        if accounts is not None and "parent_id" not in accounts:
            register_cycles(self.con)
        for rule in rules:
            self.apply(rule)

    def apply(self, rule: RowRule, accounts: str | None = None, kept_only: bool = False) -> int:
        """Record the rows breaking ``rule``; return how many there were."""
        where = rule.where.replace(ACCOUNTS, quote(accounts or self.accounts))
        if kept_only:
            where = f"({where}) AND NOT {self.hit(rule.table, 't')}"
        inserted = self.con.execute(
            f"INSERT INTO {_HITS} SELECT {literal(rule.table)}, {ROW}, {literal(rule.rule)}, "
            f"{literal(rule.column) if rule.column else 'NULL'} "
            f"FROM {quote(rule.table)} t WHERE {where}"
        ).fetchall()[0][0]
        if inserted:
            self.rules.setdefault((rule.table, rule.rule, rule.column), rule)
        return inserted

    @staticmethod
    def hit(table: str, alias: str) -> str:
        """SQL: the row ``alias`` of ``table`` has been recorded as offending."""
        return (
            f"EXISTS (SELECT 1 FROM {_HITS} h WHERE h.tbl = {literal(table)} "
            f"AND h.{ROW} = {alias}.{ROW})"
        )

    def warning(self, rule: RowRule) -> Violation | None:
        """Count the rows of a warning rule (nothing is recorded): a violation, or ``None``."""
        where = f"FROM {quote(rule.table)} t WHERE {rule.where}"
        count = self.con.execute(f"SELECT count(*) {where}").fetchall()[0][0]
        if not count:
            return None
        examples = _example_rows(
            self.con.execute(
                f"SELECT t.* EXCLUDE ({BAD}) {where} ORDER BY t.{ROW} LIMIT {MAX_EXAMPLES}"
            )
        )
        return Violation(rule.table, rule.rule, rule.message, count, examples, rule.column)

    def quarantine_orphans(self) -> None:
        """Record accounts with only part of their subscription lines quarantined, and rows
        naming quarantined accounts, until no new row is found."""
        if not self.dataset.has("accounts"):
            return
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {_KEPT_ACCOUNTS} AS "
            f"SELECT * FROM accounts a WHERE NOT {self.hit('accounts', 'a')}"
        )
        references = [reference_rule("accounts", "parent_id")]
        references += [reference_rule(table) for table in REFERENCING]
        lines = (
            RowRule(
                "accounts",
                "subscription_quarantined",
                "account_id",
                "account_id IN (SELECT s.account_id FROM subscriptions s "
                f"WHERE {self.hit('subscriptions', 's')}) "
                "AND account_id IN (SELECT s.account_id FROM subscriptions s "
                f"WHERE NOT {self.hit('subscriptions', 's')})",
                "accounts.account_id has subscription lines quarantined for another rule and "
                "others kept: its churn label would be derived from part of its lines, so the "
                "account is set aside too",
                ("account_id",),
            )
            if self.dataset.has("subscriptions")
            else None
        )
        while True:
            found = 0
            if lines is not None:
                found += self.apply(lines, kept_only=True)
            for ref in references:
                if not applicable(ref, self.dataset):
                    continue
                message = f"{ref.table}.{ref.column} names an account quarantined for another rule"
                orphan = RowRule(ref.table, "orphaned", ref.column, ref.where, message, ref.uses)
                found += self.apply(orphan, accounts=_KEPT_ACCOUNTS, kept_only=True)
            if not found:
                return

    def offences(self) -> list[tuple[str, int, str, str | None, str]]:
        """Every recorded offence: (table, row, rule, column, message), by table and row."""
        hits = self.con.execute(
            f"SELECT DISTINCT tbl, {ROW}, rule, col FROM {_HITS} ORDER BY tbl, {ROW}, rule"
        ).fetchall()
        return [(t, row, r, c, self.rules[(t, r, c)].message) for t, row, r, c in hits]

    def violations(
        self, bad_value_examples: dict[tuple[str, str | None], list[dict]]
    ) -> list[Violation]:
        """One violation per recorded (table, rule, column), with its count and examples."""
        counts = self.con.execute(
            f"SELECT tbl, rule, col, count(*) FROM {_HITS} GROUP BY ALL"
        ).fetchall()
        by_key = {(t, r, c): n for t, r, c, n in counts}
        found = []
        for key, rule in self.rules.items():
            if rule.rule == "bad_value":
                examples = bad_value_examples.get((rule.table, rule.column), [])
            else:
                examples = self._examples(*key)
            found.append(
                Violation(rule.table, rule.rule, rule.message, by_key[key], examples, rule.column)
            )
        return found

    def _examples(self, table: str, rule: str, column: str | None) -> list[dict[str, Any]]:
        cursor = self.con.execute(
            f"SELECT t.* EXCLUDE ({BAD}) FROM {quote(table)} t WHERE t.{ROW} IN "
            f"(SELECT {ROW} FROM {_HITS} WHERE tbl = ? AND rule = ? "
            f"AND col IS NOT DISTINCT FROM ? ORDER BY {ROW} LIMIT {MAX_EXAMPLES}) ORDER BY t.{ROW}",
            [table, rule, column],
        )
        return _example_rows(cursor)

    def row_counts(self) -> dict[str, int]:
        """Rows per loaded table."""
        return {
            name: self.con.execute(f"SELECT count(*) FROM {quote(name)}").fetchall()[0][0]
            for name in self.dataset.files
        }

    def write(self, out: Path) -> tuple[dict[str, Path], dict[str, int]]:
        """Split every loaded table into ``out/<table>.parquet`` and ``out/clean/<table>.parquet``.

        Returns:
            The quarantine file of each table with offending rows, and the rows kept per table.
        """
        clean = out / "clean"
        if self.dataset.path.resolve() in (out.resolve(), clean.resolve()):
            raise DataContractError(f"quarantine folder {out} would overwrite the data directory")
        clean.mkdir(parents=True, exist_ok=True)
        for folder in (out, clean):
            for name in TABLES:
                for suffix in FORMATS:
                    (folder / f"{name}{suffix}").unlink(missing_ok=True)
        label = (
            "CASE WHEN col IS NULL OR ends_with(rule, col) THEN rule ELSE rule || ':' || col END"
        )
        quarantined: dict[str, Path] = {}
        kept: dict[str, int] = {}
        for name in self.dataset.files:
            select = ", ".join(f"t.{quote(c)}" for c in self._written_columns(name))
            broken = (
                f"SELECT {ROW}, list_sort(list_distinct(list({label}))) AS rules "
                f"FROM {_HITS} WHERE tbl = {literal(name)} GROUP BY ALL"
            )
            target = out / f"{name}.parquet"
            written = self._copy(
                f"SELECT {select}, b.rules AS {BROKEN_RULES}, t.{ROW} AS {SOURCE_ROW} "
                f"FROM {quote(name)} t JOIN ({broken}) b ON b.{ROW} = t.{ROW} ORDER BY t.{ROW}",
                target,
            )
            if written:
                quarantined[name] = target
            else:
                target.unlink()
            kept[name] = self._copy(
                f"SELECT {select} FROM {quote(name)} t WHERE NOT {self.hit(name, 't')} "
                f"ORDER BY t.{ROW}",
                clean / f"{name}.parquet",
            )
            log.info("%s: kept %d rows, quarantined %d", name, kept[name], written)
        return quarantined, kept

    def _written_columns(self, table: str) -> list[str]:
        """The columns the source file had (contract columns added as NULL are left out)."""
        added = set(self.dataset.added_columns[table]) | {ROW, BAD}
        described = self.con.execute(f"DESCRIBE {quote(table)}").fetchall()
        return [row[0] for row in described if row[0] not in added]

    def _copy(self, query: str, target: Path) -> int:
        """Write the rows of ``query`` to a Parquet file; return how many there were."""
        return self.con.execute(
            f"COPY ({query}) TO {literal(str(target))} (FORMAT parquet)"
        ).fetchall()[0][0]
