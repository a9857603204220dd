"""Hostile but contract-shaped input: refused by ``vitals validate`` with a clear rule, or handled
by every later command; never a traceback. Unexpected errors (bugs) are one line too."""

from __future__ import annotations

import csv
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from vitals.cli.main import app
from vitals.features.simulate import simulate, write_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "data"
    write_dataset(simulate(accounts=80, months=8, seed=2), root, "csv")
    return root


@pytest.fixture(scope="module")
def sample_snapshots(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile-out") / "snap.parquet"
    result = runner.invoke(app, ["features", str(sample), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def data(sample: Path, tmp_path: Path) -> Path:
    """A writable copy of the sample."""
    return Path(shutil.copytree(sample, tmp_path / "data"))


def _append(path: Path, line: str) -> None:
    with path.open("a") as fh:
        fh.write(line + "\n")


def _last_day(data: Path) -> date:
    with (data / "events.csv").open() as fh:
        return max(date.fromisoformat(row["timestamp"][:10]) for row in csv.DictReader(fh))


def _one_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def _features(data: Path, out: Path, *args: str):
    return runner.invoke(app, ["features", str(data), "--out", str(out), *args])


def test_a_timestamp_the_pipeline_cannot_handle_fails_validation(data, tmp_path):
    _append(data / "events.csv", '"A000001","0001-01-01 00:00:00","login","u0",,')

    checked = runner.invoke(app, ["validate", str(data)])
    assert checked.exit_code == 1
    assert "timestamp_range" in checked.output and "1900-01-01..2199-12-31" in checked.output
    line = _one_line(_features(data, tmp_path / "snap.parquet"))
    assert "events.timestamp_range (1 rows)" in line
    assert not (tmp_path / "snap.parquet").exists()


@pytest.mark.parametrize("option", [["--start", "0001-01-01"], ["--end", "9999-12-31"]])
def test_snapshot_dates_outside_the_supported_range_are_one_line(data, tmp_path, option):
    line = _one_line(_features(data, tmp_path / "snap.parquet", *option))
    assert f"{option[0]} {option[1]} is outside the supported range 1900-01-01..2199-12-31" in line


@pytest.mark.parametrize("stamp", ["1970-01-01 00:00:00", "1900-01-01 00:00:00"])
def test_a_few_ancient_events_do_not_move_the_default_snapshot_dates(
    data, tmp_path, sample_snapshots, stamp
):
    _append(data / "events.csv", f'"A000001","{stamp}","login","u0","reports",')

    checked = runner.invoke(app, ["validate", str(data)])
    assert checked.exit_code == 0 and "early_outlier" in checked.output
    out = tmp_path / "snap.parquet"
    assert _features(data, out).exit_code == 0
    clean, shifted = pq.read_table(sample_snapshots), pq.read_table(out)
    assert shifted.column_names == clean.column_names  # no per-user feature columns lost
    assert shifted.column("as_of").unique() == clean.column("as_of").unique()


def _running_line(data: Path) -> tuple[list[dict], int]:
    """The subscriptions and the index of the one running line of an account with one line."""
    with (data / "subscriptions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["account_id"]] = counts.get(row["account_id"], 0) + 1
    return rows, next(
        i for i, r in enumerate(rows) if not r["end_date"] and counts[r["account_id"]] == 1
    )


@pytest.mark.parametrize("after", [timedelta(days=20), timedelta(days=365 * 80)])
def test_a_scheduled_end_after_the_data_is_a_running_line(data, tmp_path, sample_snapshots, after):
    rows, at = _running_line(data)
    rows[at]["end_date"] = (_last_day(data) + after).isoformat()
    with (data / "subscriptions.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    checked = runner.invoke(app, ["validate", str(data)])
    assert checked.exit_code == 0, checked.output
    assert "scheduled_end" in checked.output and "treated as still running" in checked.output
    out = tmp_path / "snap.parquet"
    assert _features(data, out).exit_code == 0
    # the same snapshots, labels included, as with no end_date at all
    assert pq.read_table(out).equals(pq.read_table(sample_snapshots))


def test_an_empty_events_table_is_refused_by_validation(data, tmp_path):
    header = (data / "events.csv").read_text().splitlines()[0]
    (data / "events.csv").write_text(header + "\n")

    checked = runner.invoke(app, ["validate", str(data)])
    assert checked.exit_code == 1
    assert "events has no rows: Vitals needs product events to compute health" in " ".join(
        checked.output.split()
    )
    line = _one_line(_features(data, tmp_path / "snap.parquet"))
    assert "events has no rows" in line and "--start" not in line


def test_a_csv_without_its_header_names_the_expected_columns(data, tmp_path):
    text = (data / "accounts.csv").read_text()
    (data / "accounts.csv").write_text(text.split("\n", 1)[1])

    line = _one_line(_features(data, tmp_path / "snap.parquet"))
    assert "accounts.csv: the first line is not a header row" in line
    assert "account_id, parent_id, name, segment, created_at" in line and "A000001" in line


def test_a_time_zone_name_is_refused(data):
    _append(data / "events.csv", '"A000001","2026-01-10T01:00:00 Europe/Berlin","login","u0",,')

    checked = runner.invoke(app, ["validate", str(data)])
    assert checked.exit_code == 1
    text = " ".join(checked.output.split())
    assert "bad_value" in text and "a time zone name is not read" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["features", "{data}", "--out", "{folder}"], "--out {folder} is a directory"),
        (["features", "{data}", "--out", "{file}/x.parquet"], "which is a file"),
        (["simulate", "--accounts", "5", "--out", "{file}"], "--out {file} is a file"),
        (["validate", "{data}", "--quarantine", "{file}"], "--quarantine {file} is a file"),
        (["train", "{data}", "--features", "{folder}"], "--features {folder} is a directory"),
        (["demo", "--workdir", "{file}", "--no-serve"], "--workdir {file} is a file"),
    ],
)
def test_an_output_path_that_cannot_be_written_is_one_line(data, tmp_path, args, message):
    places = {"data": data, "folder": tmp_path / "folder", "file": tmp_path / "file.txt"}
    places["folder"].mkdir()
    places["file"].write_text("keep me\n")
    result = runner.invoke(app, [a.format(**places) for a in args])

    assert message.format(**places) in _one_line(result)
    assert places["file"].read_text() == "keep me\n" and list(places["folder"].iterdir()) == []


def _boom(*args, **kwargs):
    raise RuntimeError("boom\nsecond line")


@pytest.mark.parametrize("verbose", [False, True])
def test_an_unexpected_error_is_one_line_naming_the_command_and_the_traceback_file(
    data, tmp_path, monkeypatch, verbose
):
    from vitals.features import pipeline

    monkeypatch.setattr(pipeline, "snapshots_to_file", _boom)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    flags = ["--verbose"] if verbose else []
    result = runner.invoke(app, [*flags, "features", str(data), "--out", str(tmp_path / "s")])

    assert result.exit_code == 1
    [log] = tmp_path.glob("vitals-error-*.log")
    assert "Traceback" in log.read_text() and "second line" in log.read_text()
    last = [line for line in result.output.splitlines() if line.strip()][-1]
    assert "vitals features failed unexpectedly" in " ".join(result.output.split())
    assert "RuntimeError: boom" in result.output and str(log) in " ".join(result.output.split())
    assert ("Traceback" in result.output) is verbose
    if not verbose:
        assert "run with --verbose to print it" in last
        _one_line(result)


def test_an_unexpected_error_in_a_sub_command_names_it(tmp_path, monkeypatch):
    from vitals.serving.api import server

    monkeypatch.setattr(server, "keys_in_store", _boom)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = runner.invoke(app, ["keys", "list"])

    assert "vitals keys list failed unexpectedly" in _one_line(result)
