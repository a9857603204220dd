"""Batch scoring: score one date or backfill a window into the health store (DuckDB or Spark)."""

from __future__ import annotations

from vitals.serving.batch.errors import (
    DateOutOfRangeError,
    ModelDataMismatchError,
    ModelNotFoundError,
    ScoringError,
)
from vitals.serving.batch.jobs import Progress, RunOptions, backfill, score
from vitals.serving.batch.model_source import LoadedModel, load_model
from vitals.serving.batch.summary import RunSummary

__all__ = [
    "DateOutOfRangeError",
    "LoadedModel",
    "ModelDataMismatchError",
    "ModelNotFoundError",
    "Progress",
    "RunOptions",
    "RunSummary",
    "ScoringError",
    "backfill",
    "load_model",
    "score",
]
