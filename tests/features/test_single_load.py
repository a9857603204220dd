"""The pipeline reads a data directory once: validation's load becomes the dataset.

What it hands on must be exactly what the strict loader would have loaded.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest

from vitals.features.loader import Dataset, load_dataset
from vitals.features.pipeline import PipelineError, load_valid_dataset
from vitals.features.validate import load_validated, validate_dataset

if TYPE_CHECKING:
    from conftest import DataDir


def _without_column(data: DataDir, table: str, column: str) -> None:
    rows = list(csv.DictReader(io.StringIO(data.file(table).read_text())))
    out = io.StringIO()
    writer = csv.DictWriter(out, [c for c in rows[0] if c != column], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: v for k, v in row.items() if k != column} for row in rows)
    data.file(table).write_text(out.getvalue())


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return sorted(
        name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
    )


def _contents(dataset: Dataset, table: str) -> tuple[list[tuple], list[tuple]]:
    """The column names and types, and the rows in load order, of one table."""
    described = dataset.con.execute(f'DESCRIBE "{table}"').fetchall()
    rows = dataset.con.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
    return [row[:2] for row in described], rows


@pytest.fixture(params=["csv", "parquet"])
def data_path(request: pytest.FixtureRequest, data: DataDir, tmp_path: Path) -> Path:
    """A valid directory lacking the optional ``accounts.name`` column and ``sentiment`` table."""
    _without_column(data, "accounts", "name")
    data.remove("sentiment")
    if request.param == "csv":
        return data.path
    return data.to_parquet(tmp_path / "pq")


def test_the_single_load_equals_the_strict_load(data_path: Path) -> None:
    loaded = load_valid_dataset(data_path)
    strict = load_dataset(data_path)
    try:
        assert loaded.files == strict.files
        assert "sentiment" not in loaded.files
        assert loaded.added_columns == strict.added_columns
        assert loaded.added_columns["accounts"] == ["name"]
        assert _tables(loaded.con) == _tables(strict.con) == sorted(strict.files)
        for table in strict.files:
            assert _contents(loaded, table) == _contents(strict, table), table
        assert loaded.data_end == strict.data_end
    finally:
        loaded.con.close()
        strict.con.close()


def test_extra_csv_columns_keep_the_strict_types(data: DataDir) -> None:
    loaded = load_valid_dataset(data.path)
    try:
        described = loaded.con.execute("DESCRIBE accounts").fetchall()
        types = {row[0]: row[1] for row in described}
    finally:
        loaded.con.close()

    assert types["plan"] == "VARCHAR"
    assert types["employees"] == "BIGINT"
    assert "_row" not in types and "_bad_values" not in types


@pytest.mark.parametrize(
    ("table", "old", "new", "named"),
    [
        ("events", "a3,2024", "zz,2024", "events.unknown_account (1 rows)"),
        ("subscriptions", "1200.0,40", "lots,40", "subscriptions.bad_value (1 rows)"),
        ("accounts", "a3,a1,", "a3,zz,", "accounts.unknown_parent (1 rows)"),
    ],
)
def test_a_failing_directory_raises_naming_the_rule(
    data: DataDir, table: str, old: str, new: str, named: str
) -> None:
    data.replace(table, old, new)

    with pytest.raises(PipelineError, match="fails validation") as raised:
        load_valid_dataset(data.path)

    assert named in str(raised.value)


def test_a_missing_required_column_is_a_validation_failure(data: DataDir) -> None:
    _without_column(data, "events", "event_type")

    with pytest.raises(PipelineError, match=r"events\.missing_column"):
        load_valid_dataset(data.path)


def test_not_a_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="not a data directory"):
        load_valid_dataset(tmp_path / "nowhere")


def test_load_validated_reports_like_validate_dataset(data: DataDir) -> None:
    data.replace("tickets", "b1,t2,", "b1,t1,")

    report, dataset = load_validated(data.path)

    assert dataset is None
    assert report == validate_dataset(data.path)
    assert [(v.table, v.rule, v.count) for v in report.violations] == [
        ("tickets", "unique_ticket_id", 2)
    ]
