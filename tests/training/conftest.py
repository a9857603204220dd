"""Fixtures of the training tests: one small simulated data set, its snapshots, a trained outcome.

Nothing here touches the shared ``mlruns/``: tests that log to MLflow use :func:`tracking`, a
SQLite store in a temporary folder (the working directory moves there too).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from vitals.config.settings import ProfileConfig, Settings, TrainingSettings
from vitals.features.build import Snapshots, read_snapshots, write_snapshots
from vitals.features.simulate import simulate, write_dataset
from vitals.training.data import build_training_snapshots
from vitals.training.pipeline import TrainingOutcome, fit_and_evaluate

SEED = 11


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 accounts over 24 months (seed 3), as Parquet files."""
    out = tmp_path_factory.mktemp("data")
    write_dataset(simulate(accounts=600, months=24, seed=3), out, "parquet")
    return out


@pytest.fixture(scope="session")
def built(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, date | None]:
    """Snapshots every 14 days after a 90-day warm-up, written to a file; and the first event."""
    snapshots, first_event = build_training_snapshots(
        data_dir, horizon_days=90, grace_days=30, every="14d", warmup_days=90
    )
    path = write_snapshots(snapshots, tmp_path_factory.mktemp("snapshots") / "snapshots.parquet")
    return path, first_event


@pytest.fixture(scope="session")
def snapshot_file(built: tuple[Path, date | None]) -> Path:
    return built[0]


@pytest.fixture(scope="session")
def first_event(built: tuple[Path, date | None]) -> date | None:
    return built[1]


@pytest.fixture(scope="session")
def snapshots(snapshot_file: Path) -> Snapshots:
    return read_snapshots(snapshot_file)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Default windows; smb has thresholds low enough for its own booster on this small data."""
    profiles = [
        ProfileConfig(name="onboarding", max_tenure_days=90),
        ProfileConfig(name="enterprise", segments=["enterprise"]),
        ProfileConfig(name="smb", segments=["smb"], min_train_snapshots=500, min_train_churners=30),
    ]
    return Settings(profiles=profiles, seed=SEED, training=TrainingSettings())


@pytest.fixture(scope="session")
def outcome(snapshots: Snapshots, settings: Settings, first_event: date | None) -> TrainingOutcome:
    return fit_and_evaluate(snapshots, settings, history_start=first_event)


@pytest.fixture
def tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private SQLite MLflow store in a temporary working directory."""
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    monkeypatch.chdir(tmp_path)
    return uri
