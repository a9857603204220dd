"""Exceptions of the training stage: each message says what to change."""

from __future__ import annotations


class TrainingError(ValueError):
    """The data or the options cannot train a model; the message says what to change."""


class TrackingError(RuntimeError):
    """The MLflow tracking server or registry cannot be used; the message says what to change."""


class PromotionRefused(RuntimeError):
    """A candidate model is worse than the current champion (``--force`` overrides)."""
