"""Batch scoring: score one date or backfill a window into the health store (DuckDB or Spark)."""

from __future__ import annotations

from serving.batch.errors import (
    DateOutOfRangeError,
    ModelDataMismatchError,
    ModelNotFoundError,
    ScoringError,
)
from serving.batch.jobs import Progress, RunOptions, backfill, score
from serving.batch.model_source import LoadedModel, load_model
from serving.batch.summary import RunSummary

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
