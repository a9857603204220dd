"""The row rules of the data contract, each a SQL predicate over a loaded table.

Every rule has a stable short id (``rule``). A predicate is true for the offending rows of its
table (aliased ``t``); a reference rule names the accounts it checks against as ``{accounts}``,
so the same rule can run against all accounts or only against the accounts kept by quarantine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from vitals.features.casting import literal, quote
from vitals.features.contract import PRIORITIES, SENTIMENT_RATINGS, SURVEY_RANGES, TABLES
from vitals.features.loader import (
    OUTLIER_GAP_DAYS,
    SCHEDULED_END,
    DataContractError,
    Dataset,
    bulk_start_sql,
)
from vitals.features.table_load import BAD

ACCOUNTS = "{accounts}"
CYCLE_TABLE = "__vitals_cycle"
#: Tables whose ``account_id`` must name an account.
REFERENCING = ("subscriptions", "events", "tickets", "surveys", "sentiment")
#: The stamps Vitals supports: from FIRST_DAY up to, not including, END_DAY. Snapshot dates
#: are laid out with pandas (years 1677..2262) and as day numbers; older or later stamps are
#: typos or placeholders (0001-01-01, 9999-12-31) that would crash or mislead the pipeline.
FIRST_DAY = date(1900, 1, 1)
END_DAY = date(2200, 1, 1)
#: Why each required table needs rows (an empty one passes no other rule).
NEEDED_FOR = {
    "accounts": "Vitals needs the customer accounts to score",
    "subscriptions": "Vitals needs subscription lines to tell who is a customer and who churned",
    "events": "Vitals needs product events to compute health",
}
#: The tables whose stamps are checked for early outliers, and their stamp column.
ACTIVITY_STAMPS = {
    "events": "timestamp",
    "tickets": "opened_at",
    "surveys": "responded_at",
    "sentiment": "recorded_at",
}


@dataclass(frozen=True)
class RowRule:
    """One rule of the data contract, applied to the rows of one table.

    Attributes:
        table: the table checked.
        rule: the stable rule id, e.g. ``range_mrr``.
        column: the column checked, or ``None`` when the rule is about the whole row.
        where: SQL predicate, true for offending rows of ``table`` (aliased ``t``).
        message: one line naming the table and field, e.g. ``subscriptions.mrr is negative``.
        uses: the columns of ``table`` the predicate reads.
    """

    table: str
    rule: str
    column: str | None
    where: str
    message: str
    uses: tuple[str, ...]

    @property
    def is_reference(self) -> bool:
        """Whether the rule checks against the accounts table."""
        return ACCOUNTS in self.where


def cycle_members(edges: Iterable[tuple[str, str]]) -> set[str]:
    """Accounts on a parent cycle, given ``(account_id, parent_id)`` pairs.

    Repeatedly removes accounts that no remaining account names as its parent (Kahn's
    algorithm); whatever remains lies on a cycle. An account that is its own parent is a cycle.

    Args:
        edges: child-to-parent pairs.

    Returns:
        The ids of the accounts on a cycle.
    """
    parents: dict[str, set[str]] = defaultdict(set)
    child_count: dict[str, int] = defaultdict(int)
    for child, parent in set(edges):
        parents[child].add(parent)
        child_count[parent] += 1
    nodes = set(parents) | set(child_count)
    queue = [node for node in nodes if child_count[node] == 0]
    removed: set[str] = set()
    while queue:
        node = queue.pop()
        removed.add(node)
        for parent in parents.get(node, ()):
            child_count[parent] -= 1
            if child_count[parent] == 0:
                queue.append(parent)
    return nodes - removed


def register_cycles(con: duckdb.DuckDBPyConnection) -> int:
    """Find the accounts on a parent cycle and store them in :data:`CYCLE_TABLE`.

    Returns:
        The number of accounts on a cycle.
    """
    edges = con.execute(
        "SELECT account_id, parent_id FROM accounts "
        "WHERE account_id IS NOT NULL AND parent_id IS NOT NULL"
    ).fetchall()
    members = sorted(cycle_members(edges))
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CYCLE_TABLE} (account_id VARCHAR)")
    if members:
        con.executemany(f"INSERT INTO {CYCLE_TABLE} VALUES (?)", [[m] for m in members])
    return len(members)


def _not_null(table: str, column: str) -> RowRule:
    col = quote(column)
    missing = f"{col} IS NULL"
    if TABLES[table].column(column).type == "string":
        missing = f"({col} IS NULL OR trim({col}) = '')"
    # a value that could not be read is NULL now, but it is reported as bad_value instead
    where = f"{missing} AND NOT list_contains({BAD}, {literal(column)})"
    return RowRule(
        table, "not_null", column, where, f"{table}.{column} is null or empty", (column,)
    )


def _unique(table: str, column: str) -> RowRule:
    col = quote(column)
    where = (
        f"{col} IN (SELECT {col} FROM {quote(table)} WHERE {col} IS NOT NULL "
        "GROUP BY ALL HAVING count(*) > 1)"
    )
    return RowRule(
        table, f"unique_{column}", column, where, f"{table}.{column} is not unique", (column,)
    )


def reference_rule(table: str, column: str = "account_id") -> RowRule:
    """The rule that ``table.column`` names an account: ``unknown_account`` / ``unknown_parent``."""
    col = quote(column)
    where = (
        f"{col} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {ACCOUNTS} a WHERE a.account_id = t.{col})"
    )
    rule = "unknown_parent" if column == "parent_id" else "unknown_account"
    return RowRule(
        table, rule, column, where, f"{table}.{column} names an unknown account", (column,)
    )


#: Largest amount or quantity accepted: features sum them exactly as DECIMAL(38, 9) (so that
#: two builds are bit-identical), which holds totals below 1e29.
MAX_AMOUNT = 1e15


def _range(table: str, column: str, low: float, high: float | None = None) -> RowRule:
    col = quote(column)
    inside = f"{col} >= {low}" + ("" if high is None else f" AND {col} <= {high}")
    where = f"{col} IS NOT NULL AND NOT (isfinite({col}) AND {inside})"
    wanted = f">= {low:g}" if high is None else f"within {low:g}..{high:g}"
    message = f"{table}.{column} is not {wanted}"
    return RowRule(table, f"range_{column}", column, where, message, (column,))


def _allowed(table: str, column: str, values: Iterable[str]) -> RowRule:
    allowed = tuple(values)
    listed = ", ".join(literal(v) for v in allowed)
    where = f"{quote(column)} IS NOT NULL AND {quote(column)} NOT IN ({listed})"
    message = f"{table}.{column} is not one of {', '.join(allowed)}"
    return RowRule(table, f"allowed_{column}", column, where, message, (column,))


def _survey_score() -> RowRule:
    cases = " ".join(
        f"WHEN {literal(kind)} THEN score BETWEEN {low} AND {high}"
        for kind, (low, high) in SURVEY_RANGES.items()
    )
    where = f"score IS NOT NULL AND NOT coalesce(CASE kind {cases} ELSE TRUE END, FALSE)"
    ranges = ", ".join(f"{kind} {low:g}..{high:g}" for kind, (low, high) in SURVEY_RANGES.items())
    message = f"surveys.score is outside its kind's range ({ranges})"
    return RowRule("surveys", "range_score", "score", where, message, ("score", "kind"))


def _ordered(table: str, rule: str, first: str, then: str) -> RowRule:
    where = f"{quote(then)} < {quote(first)}"
    return RowRule(
        table, rule, then, where, f"{table}.{then} is before {table}.{first}", (first, then)
    )


def _supported(table: str, column: str) -> RowRule:
    stamp = f"CAST({quote(column)} AS TIMESTAMP)"
    where = f"{stamp} < TIMESTAMP {literal(FIRST_DAY.isoformat())}"
    if (table, column) != SCHEDULED_END:  # a later end is a scheduled one: still running
        where += f" OR {stamp} >= TIMESTAMP {literal(END_DAY.isoformat())}"
    last = date.fromordinal(END_DAY.toordinal() - 1)
    message = (
        f"{table}.{column} is outside the supported range {FIRST_DAY}..{last} "
        "(a typo or a placeholder date?)"
    )
    return RowRule(table, "timestamp_range", column, f"({where})", message, (column,))


def _future(table: str, column: str, now: datetime) -> RowRule:
    stamp = f"CAST({quote(column)} AS TIMESTAMP)"
    # a stamp outside the supported range is reported by that rule alone
    where = (
        f"{stamp} > TIMESTAMP {literal(now.isoformat(sep=' '))} "
        f"AND {stamp} < TIMESTAMP {literal(END_DAY.isoformat())}"
    )
    message = (
        f"{table}.{column} is in the future (after {now.isoformat(sep=' ', timespec='seconds')})"
    )
    return RowRule(table, "future_timestamp", column, where, message, (column,))


_STAMPS = ("timestamp", "date")


def all_rules(now: datetime) -> list[RowRule]:
    """Every row rule of the data contract; ``now`` (naive UTC) bounds the timestamps."""
    rules = [
        _not_null(t.name, c.name) for t in TABLES.values() for c in t.columns if not c.nullable
    ]
    rules += [_unique("accounts", "account_id"), _unique("tickets", "ticket_id")]
    rules += [reference_rule("accounts", "parent_id")]
    rules += [reference_rule(table) for table in REFERENCING]
    rules.append(
        RowRule(
            "accounts",
            "parent_cycle",
            "parent_id",
            f"account_id IN (SELECT account_id FROM {CYCLE_TABLE})",
            "accounts.parent_id forms a cycle",
            ("account_id", "parent_id"),
        )
    )
    rules += [
        _range("subscriptions", "mrr", 0, MAX_AMOUNT),
        _range("subscriptions", "seats", 0),
        _range("subscriptions", "discount", 0, 1),
        _range("subscriptions", "billing_period_months", 1),
        _ordered("subscriptions", "end_before_start", "start_date", "end_date"),
        _range("events", "value", -MAX_AMOUNT, MAX_AMOUNT),
        _range("tickets", "csat", 1, 5),
        _allowed("tickets", "priority", PRIORITIES),
        _ordered("tickets", "closed_before_opened", "opened_at", "closed_at"),
        _allowed("surveys", "kind", SURVEY_RANGES),
        _survey_score(),
        _allowed("sentiment", "rating", SENTIMENT_RATINGS),
    ]
    stamps = [(t.name, c.name) for t in TABLES.values() for c in t.columns if c.type in _STAMPS]
    rules += [_supported(table, column) for table, column in stamps]
    # an end_date after the data's last day is a scheduled end: see warning_rules
    rules += [
        _future(table, column, now) for table, column in stamps if (table, column) != SCHEDULED_END
    ]
    return rules


def applicable(rule: RowRule, dataset: Dataset) -> bool:
    """Whether ``rule`` can run on ``dataset``: its table and columns (and accounts) were read."""

    def readable(table: str, columns: Iterable[str]) -> bool:
        added = dataset.added_columns.get(table, [])
        return dataset.has(table) and not any(c in added for c in columns)

    if rule.is_reference and not readable("accounts", ("account_id",)):
        return False
    return readable(rule.table, rule.uses)


def row_rules(dataset: Dataset, now: datetime) -> list[RowRule]:
    """Every row rule that can run on ``dataset``; ``now`` (naive UTC) bounds the timestamps."""
    return [rule for rule in all_rules(now) if applicable(rule, dataset)]


def warning_rules(dataset: Dataset) -> list[RowRule]:
    """Rules for rows that are valid but worth a look; they never fail validation.

    * ``scheduled_end``: a subscription line ending after the data's last day; the pipeline
      treats it as still running (``loader.scheduled_ends``).
    * ``early_outlier``: an activity stamp long before the rest of its table
      (``loader.bulk_start_sql``); default snapshot dates start after event outliers.
    """
    rules = []
    table, column = SCHEDULED_END
    try:
        last_day = dataset.data_end.date()
    except DataContractError:
        last_day = None
    if last_day is not None:
        rule = RowRule(
            table,
            "scheduled_end",
            column,
            f"{quote(column)} > DATE {literal(last_day.isoformat())}",
            f"{table}.{column} is after the data's last day ({last_day}): a scheduled end, "
            "so the line is treated as still running",
            (column,),
        )
        if applicable(rule, dataset):
            rules.append(rule)
    for table, column in ACTIVITY_STAMPS.items():
        probe = RowRule(table, "early_outlier", column, "", "", (column,))
        if not applicable(probe, dataset):
            continue
        stamp = f"CAST({quote(column)} AS TIMESTAMP)"
        first, bulk = dataset.con.execute(
            f"SELECT (SELECT min({stamp}) FROM {quote(table)}), ({bulk_start_sql(table, column)})"
        ).fetchall()[0]
        if first is None or first == bulk:
            continue
        message = (
            f"{table}.{column} lies more than {OUTLIER_GAP_DAYS} days before the rest of "
            f"{table}, which starts on {bulk:%Y-%m-%d}: a stray or placeholder date?"
        )
        if table == "events":
            message += " Default snapshot dates start from the rest"
        where = (
            f"{stamp} < TIMESTAMP {literal(bulk.isoformat(sep=' '))} "
            f"AND {stamp} >= TIMESTAMP {literal(FIRST_DAY.isoformat())}"  # else timestamp_range
        )
        rules.append(RowRule(table, "early_outlier", column, where, message, (column,)))
    return rules
