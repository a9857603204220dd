"""What validation found: violations per table and rule, and what quarantine kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table as RichTable

from vitals.features.contract import TABLES

MAX_EXAMPLES = 5


@dataclass
class Violation:
    """Rows of one table that break one rule.

    Attributes:
        table: the contract table.
        rule: the stable rule id, e.g. ``unknown_account``.
        message: one line naming the table and field.
        count: how many rows break the rule (1 for a table-level problem such as a missing file).
        examples: up to five offending rows, each with its file ``row`` number first.
        column: the column the rule checks, when it checks one.
    """

    table: str
    rule: str
    message: str
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)
    column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The violation as a JSON-able dict."""
        return {
            "table": self.table,
            "rule": self.rule,
            "column": self.column,
            "message": self.message,
            "count": self.count,
            "examples": [{k: _jsonable(v) for k, v in row.items()} for row in self.examples],
        }


@dataclass
class ValidationReport:
    """The outcome of :func:`vitals.features.validate.validate_dataset`.

    Attributes:
        violations: every broken rule, in contract table order.
        quarantined: per table, the file of its quarantined rows (only when quarantine was asked
            for and the table had bad rows).
        kept_rows: per loaded table, the rows kept (all of them without quarantine).
        warnings: rows that break no rule but are worth a look (e.g. ``scheduled_end``,
            ``early_outlier``), counted with examples like violations; they never fail the
            report and are never quarantined.
    """

    violations: list[Violation]
    quarantined: dict[str, Path] = field(default_factory=dict)
    kept_rows: dict[str, int] = field(default_factory=dict)
    warnings: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the data breaks no rule."""
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-able dict."""
        return {
            "ok": self.ok,
            "violations": [v.to_dict() for v in self.violations],
            "quarantined": {table: str(path) for table, path in self.quarantined.items()},
            "kept_rows": dict(self.kept_rows),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def for_table(self, table: str) -> list[Violation]:
        """The violations of one table."""
        return [v for v in self.violations if v.table == table]

    def render(self, console: Console) -> None:
        """Print, per table and rule, the count, the message and up to five example rows.

        Violations are red, warnings yellow (marked ``warning:``).
        """
        if self.ok:
            console.print("[green]The data meets the contract.[/green]")
        for table in TABLES:
            violations = self.for_table(table)
            warnings = [w for w in self.warnings if w.table == table]
            if not violations and not warnings:
                continue
            console.rule(f"[bold]{table}[/bold]")
            for violation, style, prefix in [(v, "red", "") for v in violations] + [
                (w, "yellow", "warning: ") for w in warnings
            ]:
                console.print(
                    f"{prefix}[{style}]{violation.rule}[/{style}]  {violation.count:,} row(s)  "
                    f"{violation.message}",
                    highlight=False,
                )
                if violation.examples:
                    console.print(_examples_table(violation.examples))
        for table, path in self.quarantined.items():
            console.print(f"quarantined rows of {table}: {path}")
        if self.kept_rows:
            kept = ", ".join(f"{table} {rows:,}" for table, rows in self.kept_rows.items())
            console.print(f"rows kept: {kept}")


def _examples_table(examples: list[dict[str, Any]]) -> RichTable:
    columns = list(dict.fromkeys(key for row in examples for key in row))
    table = RichTable(show_edge=False, pad_edge=False, header_style="dim")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in examples:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return table


def _jsonable(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
