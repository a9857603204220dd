"""Checking a data directory against every rule of the data contract, and quarantining bad rows.

Every offending row is recorded by :class:`~vitals.features.rule_checker.RuleChecker`; the
report counts them per table and rule, and quarantine splits each table on them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from vitals.features.casting import quote
from vitals.features.contract import TABLES
from vitals.features.loader import Dataset, load_for_validation, quiet_connection
from vitals.features.report import ValidationReport, Violation
from vitals.features.rule_checker import HITS, RuleChecker, utc_naive
from vitals.features.rules import CYCLE_TABLE, NEEDED_FOR, row_rules, warning_rules
from vitals.features.table_load import BAD, ROW

__all__ = ["ValidationReport", "Violation", "load_validated", "validate_dataset"]


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
    for table in (HITS, CYCLE_TABLE):
        dataset.con.execute(f"DROP TABLE IF EXISTS {table}")
