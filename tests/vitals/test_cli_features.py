"""``vitals features``: arguments checked up front, nothing written on failure."""

from __future__ import annotations

import itertools
from typing import get_args

import pyarrow.parquet as pq
import pytest
from handmade import account, event, line, write_tables
from typer.testing import CliRunner

from vitals.cli.main import app
from vitals.features.build import read_snapshots
from vitals.features.catalog import Family
from vitals.features.simulate import simulate, write_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    write_dataset(simulate(accounts=80, months=8, seed=2), root, "csv")
    return root


def test_features_writes_snapshots_with_their_catalog(data_dir, tmp_path):
    out = tmp_path / "snap.parquet"
    result = runner.invoke(app, ["features", str(data_dir), "--out", str(out), "--every", "14d"])
    assert result.exit_code == 0, result.output
    snapshots = read_snapshots(out)
    assert snapshots.table.num_rows > 0
    assert snapshots.feature_names[0] in pq.read_schema(out).names
    dates = sorted(set(snapshots.to_pandas()["as_of"]))
    assert all((b - a).days == 14 for a, b in itertools.pairwise(dates))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "pandas"], "--engine 'pandas'"),
        (["--every", "fortnight"], "--every 'fortnight'"),
        (["--start", "2026-05-01", "--end", "2026-01-01"], "is after --end"),
        (["--start", "May"], "--start 'May'"),
    ],
)
def test_bad_arguments_give_one_line_and_write_nothing(data_dir, tmp_path, args, message):
    out = tmp_path / "snap.parquet"
    result = runner.invoke(app, ["features", str(data_dir), "--out", str(out), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_invalid_data_dir_is_refused_before_anything_is_written(tmp_path):
    bad = write_tables(
        tmp_path / "bad",
        accounts=[account("a")],
        subscriptions=[line("a", "2024-01-01", mrr=-5.0)],
        events=[event("a", "2024-02-01 10:00")],
    )
    out = tmp_path / "out" / "snap.parquet"
    result = runner.invoke(app, ["features", str(bad), "--out", str(out)])
    assert result.exit_code == 1
    assert "fails validation" in result.output and "range_mrr" in result.output
    assert not out.exists()


def test_catalog_lists_every_family():
    result = runner.invoke(app, ["features", "--list"])
    assert result.exit_code == 0
    for family in get_args(Family):
        assert family in result.output, family
