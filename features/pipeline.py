"""Data directory -> validated dataset -> snapshots on disk: what ``vitals features`` runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from vitals.config.settings import FeatureSettings
from vitals.features.build import (
    MAX_VOCABULARY,
    Snapshots,
    build_features,
    data_end_day,
    default_dates,
    discover_vocabulary,
    write_snapshots,
)
from vitals.features.catalog import FeatureSpec, KeyEvent, Vocabulary
from vitals.features.contract import TABLES
from vitals.features.dates import from_day, parse_every
from vitals.features.engines import ENGINES
from vitals.features.families import feature_set
from vitals.features.loader import DataContractError, Dataset
from vitals.features.rules import END_DAY, FIRST_DAY
from vitals.features.validate import load_validated

logger = logging.getLogger(__name__)

#: Days of history before the first default snapshot date (as ``build.default_dates``).
WARMUP_DAYS = 90


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
    vocabulary: Vocabulary | None = None
    max_event_types: int = MAX_VOCABULARY
    max_features: int = MAX_VOCABULARY
    key_events: tuple[KeyEvent, ...] = ()


def vocabulary_options(settings: FeatureSettings) -> dict[str, Any]:
    """The :class:`SnapshotRequest` fields that choose the vocabulary, from the settings."""
    return {
        "max_event_types": settings.max_event_types,
        "max_features": settings.max_product_features,
        "key_events": tuple(
            KeyEvent(k.name, tuple(k.event_types), tuple(k.features), k.higher_is_better)
            for k in settings.key_events
        ),
    }


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
        # a file-level problem (missing or empty table, unreadable file) is told in full
        broken = ", ".join(
            f"{v.table}.{v.rule} ({v.count:,} rows)"
            if v.examples
            else f"{v.table}.{v.rule}: {v.message}"
            for v in report.violations
        )
        raise PipelineError(
            f"{data_dir} fails validation: {broken}; run `vitals validate {data_dir}` "
            "for examples, or `--quarantine DIR` to set bad rows aside"
        )
    for warning in report.warnings:
        logger.warning(
            "%s: %s %s row(s): %s (see `vitals validate %s`)",
            warning.table,
            f"{warning.count:,}",
            warning.rule,
            warning.message,
            data_dir,
        )
    return dataset


def check_output(out: str | Path, option: str = "--out") -> Path:
    """Reject an output path that cannot be written as a file, before any work is done.

    Raises:
        ValueError: naming the option, when ``out`` is a directory or lies in a file.
    """
    path = Path(out)
    if path.is_dir():
        raise ValueError(
            f"{option} {out} is a directory: give a file name, such as {path / 'snapshots.parquet'}"
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{option} {out} lies in {parent}, which is a file")
            break
    return path


def default_start(dataset: Dataset, end: date | None = None) -> date | None:
    """The first default snapshot date: :data:`WARMUP_DAYS` after the bulk of the events starts.

    The bulk (:attr:`Dataset.activity_start`), not the first event: a few stray stamps long
    before the rest (validation's ``early_outlier`` warning) would otherwise stretch the dates
    back by years, with snapshots of nothing and no key product features.

    Raises:
        ValueError: when that date is after ``end`` (default: the end of the data), saying so
            (no option the user did not give is named).
    """
    first = dataset.activity_start
    if first is None:
        return None
    start = first.date() + timedelta(days=WARMUP_DAYS)
    last = end or from_day(data_end_day(dataset))
    if start > last:
        until = f"--end {end}" if end else f"the end of the data ({last})"
        raise ValueError(
            f"the product events start on {first.date()}, so the first snapshot date after "
            f"the {WARMUP_DAYS}-day warm-up, {start}, is after {until}: "
            "give an earlier --start (or more history)"
        )
    return start


def check_request(request: SnapshotRequest) -> None:
    """Reject a bad engine, step or date range before any data is read.

    Raises:
        ValueError: naming the option and what is expected.
    """
    if request.engine not in ENGINES:
        raise ValueError(f"--engine {request.engine!r} is not one of {', '.join(ENGINES)}")
    parse_every(request.every)
    for option, day in (("--start", request.start), ("--end", request.end)):
        if day is not None and not FIRST_DAY <= day < END_DAY:
            last = END_DAY - timedelta(days=1)
            raise ValueError(f"{option} {day} is outside the supported range {FIRST_DAY}..{last}")
    if request.start and request.end and request.start > request.end:
        raise ValueError(f"--start {request.start} is after --end {request.end}")


def build_snapshots(dataset: Dataset, request: SnapshotRequest) -> Snapshots:
    """Build the requested snapshots from a loaded dataset.

    Raises:
        ValueError: on a bad engine, step or date range.
    """
    check_request(request)
    start = request.start or default_start(dataset, request.end)
    dates = default_dates(dataset, start, request.end, request.every)
    vocabulary = request.vocabulary
    if vocabulary is None and dates:
        vocabulary = discover_vocabulary(
            dataset,
            dates[0],
            max_event_types=request.max_event_types,
            max_features=request.max_features,
            key_events=request.key_events,
        )
    return build_features(
        dataset,
        dates,
        horizon_days=request.horizon_days,
        grace_days=request.grace_days,
        engine=request.engine,
        spark_master=request.spark_master,
        vocabulary=vocabulary,
    )


def snapshots_to_file(data_dir: str | Path, out: str | Path, request: SnapshotRequest) -> Snapshots:
    """Validate ``data_dir``, build snapshots and write them atomically to ``out``.

    Arguments are checked before any data is read, and nothing is written unless every step
    succeeds.
    """
    check_request(request)
    check_output(out)
    dataset = load_valid_dataset(data_dir)
    snapshots = build_snapshots(dataset, request)
    write_snapshots(snapshots, out)
    return snapshots


def catalog_preview() -> list[FeatureSpec]:
    """The catalog for a data directory with every table: one event type, product feature and
    key event shown as ``<event_type>``, ``<feature>`` and ``<key event>``."""
    example = Vocabulary(("<event_type>",), ("<feature>",), (KeyEvent("<key event>"),))
    features = feature_set(set(TABLES), example, ["<attribute>"], [])
    return [f.spec for f in features]
