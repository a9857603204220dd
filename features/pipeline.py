"""Data directory -> validated dataset -> snapshots on disk: what ``vitals features`` runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from vitals.features.build import Snapshots, build_features, default_dates, write_snapshots
from vitals.features.catalog import FeatureSpec
from vitals.features.contract import TABLES
from vitals.features.dates import parse_every
from vitals.features.engines import ENGINES
from vitals.features.families import feature_set
from vitals.features.loader import DataContractError, Dataset
from vitals.features.validate import load_validated

logger = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    """The data directory cannot be turned into snapshots; the message says what to change."""


@dataclass(frozen=True)
class SnapshotRequest:
    """Which snapshots to build."""

    start: date | None = None
    end: date | None = None
    every: str = "1mo"
    horizon_days: int = 90
    grace_days: int = 30
    engine: str = "duckdb"
    spark_master: str = "local[2]"
    key_features: tuple[str, ...] | None = None


def load_valid_dataset(data_dir: str | Path) -> Dataset:
    """Load a data directory after checking it against the contract (the files are read once).

    Raises:
        PipelineError: when the directory cannot be read or breaks a contract rule.
    """
    try:
        report, dataset = load_validated(data_dir)
    except DataContractError as exc:
        raise PipelineError(str(exc)) from None
    if dataset is None:
        broken = ", ".join(f"{v.table}.{v.rule} ({v.count} rows)" for v in report.violations)
        raise PipelineError(
            f"{data_dir} fails validation: {broken}; run `vitals validate {data_dir}` "
            "for examples, or `--quarantine DIR` to set bad rows aside"
        )
    return dataset


def check_request(request: SnapshotRequest) -> None:
    """Reject a bad engine, step or date range before any data is read.

    Raises:
        ValueError: naming the option and what is expected.
    """
    if request.engine not in ENGINES:
        raise ValueError(f"--engine {request.engine!r} is not one of {', '.join(ENGINES)}")
    parse_every(request.every)
    if request.start and request.end and request.start > request.end:
        raise ValueError(f"--start {request.start} is after --end {request.end}")


def build_snapshots(dataset: Dataset, request: SnapshotRequest) -> Snapshots:
    """Build the requested snapshots from a loaded dataset.

    Raises:
        ValueError: on a bad engine, step or date range.
    """
    check_request(request)
    dates = default_dates(dataset, request.start, request.end, request.every)
    keys = list(request.key_features) if request.key_features is not None else None
    return build_features(
        dataset,
        dates,
        horizon_days=request.horizon_days,
        grace_days=request.grace_days,
        engine=request.engine,
        spark_master=request.spark_master,
        key_features=keys,
    )


def snapshots_to_file(data_dir: str | Path, out: str | Path, request: SnapshotRequest) -> Snapshots:
    """Validate ``data_dir``, build snapshots and write them atomically to ``out``.

    Arguments are checked before any data is read, and nothing is written unless every step
    succeeds.
    """
    check_request(request)
    dataset = load_valid_dataset(data_dir)
    snapshots = build_snapshots(dataset, request)
    write_snapshots(snapshots, out)
    return snapshots


def catalog_preview() -> list[FeatureSpec]:
    """The catalog for a data directory with every table, one key feature shown as ``<feature>``."""
    features = feature_set(set(TABLES), ["<feature>"], ["<attribute>"], [])
    return [f.spec for f in features]
