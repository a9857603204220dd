"""The sample data meets the data contract in both file formats."""

from __future__ import annotations

import pytest

from vitals.features.loader import load_dataset
from vitals.features.simulate import simulate, write_dataset
from vitals.features.validate import validate_dataset


@pytest.fixture(scope="module")
def sample():
    return simulate(accounts=200, months=9, seed=21)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_simulated_data_passes_validation(sample, tmp_path, fmt):
    write_dataset(sample, tmp_path, fmt)
    report = validate_dataset(tmp_path)
    assert report.ok, [f"{v.table}.{v.rule}: {v.count}" for v in report.violations]
    assert report.kept_rows["events"] == sample["events"].num_rows


def test_csv_and_parquet_load_the_same_rows(sample, tmp_path):
    write_dataset(sample, tmp_path / "p", "parquet")
    write_dataset(sample, tmp_path / "c", "csv")
    parquet, csv = load_dataset(tmp_path / "p"), load_dataset(tmp_path / "c")
    for table in ("accounts", "subscriptions", "events", "tickets", "surveys"):
        query = f"SELECT * FROM {table} ORDER BY ALL"
        left = parquet.con.execute(query).fetchall()
        right = csv.con.execute(query).fetchall()
        assert left == right, table
