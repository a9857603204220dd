"""``vitals train / evaluate / promote`` (the commands of ``vitals.cli.training``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from mlflow import MlflowClient
from trainingdata import free_port
from typer.testing import CliRunner

from vitals.cli.training import app

runner = CliRunner()


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    assert "Traceback" not in result.output
    return errors[0]


def test_train_evaluate_promote(tracking: str, data_dir: Path, snapshot_file: Path) -> None:
    trained = runner.invoke(
        app, ["train", str(data_dir), "--features", str(snapshot_file), "--register", "--seed", "5"]
    )
    assert trained.exit_code == 0, trained.output
    assert "registered as version 1 (challenger)" in trained.stdout
    assert "overall" in trained.stdout and "logistic" in trained.stdout
    assert "risk curve by horizon" in trained.stdout and "Kaplan-Meier" in trained.stdout

    shown = runner.invoke(app, ["evaluate", "--model", "challenger", "--json"])
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["seed"] == 5 and set(report["models"]) == {
        "vitals",
        "rules",
        "logistic",
        "pooled",
    }
    assert report["survival"]["horizons"]["30d"]["rows_followed_up"] > 0

    promoted = runner.invoke(app, ["promote"])
    assert promoted.exit_code == 0, promoted.output
    assert "vitals-health@champion -> version 1 (first champion)" in promoted.stdout


def test_train_builds_and_keeps_a_missing_snapshot_file(
    tracking: str, data_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "built.parquet"
    result = runner.invoke(app, ["train", str(data_dir), "--features", str(target)])
    assert result.exit_code == 0, result.output
    assert target.is_file()


def test_bad_input_is_one_line_and_exit_1(
    tracking: str, data_dir: Path, snapshot_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong_horizon = runner.invoke(
        app, ["train", str(data_dir), "--features", str(snapshot_file), "--horizon", "60"]
    )
    assert "pass --horizon 90" in one_line_error(wrong_horizon)

    too_long = runner.invoke(app, ["train", str(data_dir), "--horizon", "700"])
    assert "lower --horizon" in one_line_error(too_long)

    for command in (["evaluate", "--json"], ["promote"]):
        no_store = one_line_error(runner.invoke(app, command))
        assert "does not exist" in no_store and "run `vitals train --register` first" in no_store
    database = Path(tracking.removeprefix("sqlite:///"))
    assert not database.exists()

    database.parent.mkdir(exist_ok=True)
    MlflowClient(tracking_uri=tracking).search_experiments()  # an empty store
    nothing = runner.invoke(app, ["evaluate", "--json"])
    assert "run `vitals train` first" in one_line_error(nothing)

    no_challenger = runner.invoke(app, ["promote"])
    assert "train with --register" in one_line_error(no_challenger)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    offline = runner.invoke(app, ["train", str(data_dir), "--features", str(snapshot_file)])
    assert "cannot reach the MLflow tracking server" in one_line_error(offline)
