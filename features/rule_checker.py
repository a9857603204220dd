"""Recording the rows that break the data contract's rules, and reporting or splitting them.

Every offending row is recorded, in DuckDB, as (table, row, rule, column) in :data:`HITS`; the
report counts them per table and rule, and quarantine splits each table on them. Both
``vitals validate`` (:mod:`vitals.features.validate`) and the checks of ingested batches
(:mod:`vitals.features.batch_check`) apply their rules through :class:`RuleChecker`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from vitals.features.casting import literal, quote
from vitals.features.contract import TABLES
from vitals.features.loader import FORMATS, DataContractError, Dataset
from vitals.features.report import MAX_EXAMPLES, Violation
from vitals.features.rules import (
    ACCOUNTS,
    REFERENCING,
    RowRule,
    applicable,
    reference_rule,
    register_cycles,
)
from vitals.features.table_load import BAD, ROW, LoadIssue

log = logging.getLogger(__name__)

#: The offending rows recorded: (tbl, row, rule, col).
HITS = "__vitals_hits"
_KEPT_ACCOUNTS = "__vitals_kept_accounts"
#: Columns added to each quarantined row.
BROKEN_RULES = "broken_rules"
SOURCE_ROW = "source_row"


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
            f"CREATE OR REPLACE TEMP TABLE {HITS} "
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
            f"INSERT INTO {HITS} SELECT {literal(rule.table)}, {ROW}, {literal(rule.rule)}, "
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
            f"EXISTS (SELECT 1 FROM {HITS} h WHERE h.tbl = {literal(table)} "
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
            f"SELECT DISTINCT tbl, {ROW}, rule, col FROM {HITS} ORDER BY tbl, {ROW}, rule"
        ).fetchall()
        return [(t, row, r, c, self.rules[(t, r, c)].message) for t, row, r, c in hits]

    def violations(
        self, bad_value_examples: dict[tuple[str, str | None], list[dict]]
    ) -> list[Violation]:
        """One violation per recorded (table, rule, column), with its count and examples."""
        counts = self.con.execute(
            f"SELECT tbl, rule, col, count(*) FROM {HITS} GROUP BY ALL"
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
            f"(SELECT {ROW} FROM {HITS} WHERE tbl = ? AND rule = ? "
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
                f"FROM {HITS} WHERE tbl = {literal(name)} GROUP BY ALL"
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
