"""``vitals scorecard suggest`` (``vitals.cli.scorecard``), through the main command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vitals.cli.main import app
from vitals.config.scorecards import load_scorecards
from vitals.config.settings import get_settings
from vitals.features.build import read_snapshots

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_vitals_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VITALS_CONFIG", str(tmp_path / "no-vitals.toml"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def one_line_error(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in output, output
    return errors[0]


def test_suggest_prints_both_weights_and_writes_the_suggestion(
    snapshot_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tuned.toml"
    result = runner.invoke(
        app, ["scorecard", "suggest", "--features", str(snapshot_file), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "scorecard rules" in result.stdout and "suggested" in result.stdout
    assert "AUC with the original -> suggested weights: training window" in result.stdout
    assert "out of time, test window" in result.stdout
    features = read_snapshots(snapshot_file).feature_names
    written = load_scorecards(out, features=features)
    assert written.name == "rules"
    assert out.read_text().startswith("# rules: weights suggested by `vitals scorecard suggest`")


def test_a_bad_scorecard_is_one_line_naming_file_line_and_measure(
    snapshot_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[scorecards.default.measures]]\nname = "Tickets"\nfeature = "tickets_opened_30d"\n'
        "weight = 1\nranges = [\n  {from = 0, to = 3, points = 100},\n"
        "  {from = 2, points = 0},\n]\n"
    )
    out = tmp_path / "tuned.toml"
    args = ["--features", str(snapshot_file), "--scorecard", str(bad), "--out", str(out)]
    result = runner.invoke(app, ["scorecard", "suggest", *args])
    assert result.exit_code == 1
    line = one_line_error(result.output)
    assert f"{bad}, line 7, scorecard 'default', measure 'Tickets': range 2" in line
    assert "overlaps" in line and not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give DATA_DIR or --features SNAPSHOTS"),
        (["--features", "{tmp}/none.parquet"], "give a data directory, or a snapshot file"),
        (["--features", "{snap}", "--scorecard", "{tmp}/none.toml"], "none.toml: no such file"),
        (["--features", "{snap}", "--out", "{tmp}"], "is a directory"),
    ],
)
def test_bad_arguments_give_one_line(
    snapshot_file: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    filled = [a.format(tmp=tmp_path, snap=snapshot_file) for a in args]
    result = runner.invoke(app, ["scorecard", "suggest", *filled])
    assert result.exit_code == 1
    assert message in one_line_error(result.output)
