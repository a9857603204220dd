"""The input data contract (v1), declared: tables, columns, logical types and which are required.

The rules that go beyond a column's type (uniqueness, references, ranges, ordering) live in
``vitals.features.validate``; this module only says what the tables look like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LogicalType = Literal["string", "timestamp", "date", "float", "int"]

#: DuckDB type each logical type is loaded as.
DUCKDB_TYPES: dict[LogicalType, str] = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "float": "DOUBLE",
    "int": "BIGINT",
}


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    type: LogicalType
    nullable: bool = True
    required: bool = True  # must be present in the file (optional columns may be absent)


@dataclass(frozen=True)
class Table:
    """One contract table: its columns and whether the data directory must hold it."""

    name: str
    columns: tuple[Column, ...]
    required: bool = True

    @property
    def column_names(self) -> list[str]:
        """Names of every declared column, in contract order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The declared column called ``name``."""
        return next(c for c in self.columns if c.name == name)


ACCOUNTS = Table(
    "accounts",
    (
        Column("account_id", "string", nullable=False),
        Column("parent_id", "string"),
        Column("name", "string", required=False),
        Column("segment", "string"),
        Column("created_at", "timestamp", nullable=False),
    ),
)
SUBSCRIPTIONS = Table(
    "subscriptions",
    (
        Column("account_id", "string", nullable=False),
        Column("start_date", "date", nullable=False),
        Column("end_date", "date"),
        Column("mrr", "float", nullable=False),
        Column("seats", "float"),
        Column("product", "string", required=False),
        Column("discount", "float", required=False),
        Column("billing_period_months", "int", required=False),
    ),
)
EVENTS = Table(
    "events",
    (
        Column("account_id", "string", nullable=False),
        Column("timestamp", "timestamp", nullable=False),
        Column("event_type", "string", nullable=False),
        Column("user_id", "string"),
        Column("feature", "string"),
        Column("value", "float"),
    ),
)
TICKETS = Table(
    "tickets",
    (
        Column("account_id", "string", nullable=False),
        Column("ticket_id", "string", nullable=False),
        Column("opened_at", "timestamp", nullable=False),
        Column("closed_at", "timestamp"),
        Column("priority", "string", nullable=False),
        Column("csat", "float"),
    ),
    required=False,
)
SURVEYS = Table(
    "surveys",
    (
        Column("account_id", "string", nullable=False),
        Column("responded_at", "timestamp", nullable=False),
        Column("kind", "string", nullable=False),
        Column("score", "float", nullable=False),
        Column("user_id", "string"),
        Column("comment", "string"),
    ),
    required=False,
)
SENTIMENT = Table(
    "sentiment",
    (
        Column("account_id", "string", nullable=False),
        Column("recorded_at", "timestamp", nullable=False),
        Column("rating", "string", nullable=False),
        Column("author", "string"),
        Column("note", "string"),
    ),
    required=False,
)

TABLES: dict[str, Table] = {
    t.name: t for t in (ACCOUNTS, SUBSCRIPTIONS, EVENTS, TICKETS, SURVEYS, SENTIMENT)
}

PRIORITIES = ("low", "normal", "high", "urgent")
SURVEY_RANGES = {"nps": (0.0, 10.0), "csat": (1.0, 5.0)}
SENTIMENT_RATINGS = ("red", "yellow", "green")
