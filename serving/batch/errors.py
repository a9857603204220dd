"""Errors of batch scoring; each message says what to change, in one line."""

from __future__ import annotations


class ScoringError(RuntimeError):
    """A score or backfill run cannot go ahead; nothing was written to the live history."""


class ModelNotFoundError(ScoringError):
    """No model where ``--model`` points (no registered alias, no such run or directory)."""


class ModelDataMismatchError(ScoringError):
    """The model needs features that the data directory cannot produce."""


class DateOutOfRangeError(ScoringError):
    """An as-of date, or a whole backfill window, lies outside the data."""
