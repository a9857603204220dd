"""Health score and band from a calibrated churn probability.

Score: ``health = 100 * (1 - p)``, where ``p`` is the calibrated probability of churning within the
horizon. It is strictly decreasing in ``p`` and reads directly: health 92 means an 8 % chance of
churning within the horizon, in every profile.

Band: ``good`` when the score is at or above the profile's ``good`` threshold, ``poor`` when it is
below its ``poor`` threshold, ``average`` in between. Thresholds come from the profile's rule
(:class:`~vitals.models.profiles.ProfileRule`); a profile without them gets defaults from its base
churn rate ``r`` (the share of churners in its training window):

* good: ``p <= r / 2`` -- at most half the profile's usual risk, i.e. ``good = 100 * (1 - r / 2)``;
* poor: ``p > min(2 r, (1 + r) / 2)`` -- above twice the usual risk (or half-way from ``r`` to
  certainty when ``2 r`` would pass it), i.e. ``poor = 100 * (1 - min(2 r, (1 + r) / 2))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BANDS: tuple[str, str, str] = ("good", "average", "poor")


@dataclass(frozen=True)
class Bands:
    """Health-score cut-offs of a profile: good at or above ``good``, poor below ``poor``.

    Raises:
        ValueError: a threshold outside 0-100, or ``poor`` above ``good``.
    """

    good: float
    poor: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.poor <= 100.0 and 0.0 <= self.good <= 100.0):
            raise ValueError(f"band thresholds must lie in 0-100, got {self}")
        if self.poor > self.good:
            raise ValueError(
                f"band thresholds need poor <= good, got poor={self.poor} good={self.good}"
            )

    def to_dict(self) -> dict[str, float]:
        """The thresholds as a plain dict."""
        return {"good": self.good, "poor": self.poor}


def health_score(probability: np.ndarray) -> np.ndarray:
    """Health score 0-100 of calibrated churn probabilities (``100 * (1 - p)``)."""
    return 100.0 * (1.0 - probability)


def default_bands(base_rate: float) -> Bands:
    """Band thresholds derived from a profile's base churn rate (rule in the module docstring).

    Args:
        base_rate: share of churners in the profile's training window, in (0, 1).

    Returns:
        The ``good`` and ``poor`` score thresholds.

    Raises:
        ValueError: when the base rate is outside (0, 1).
    """
    if not 0.0 < base_rate < 1.0:
        raise ValueError(f"base churn rate must be in (0, 1), got {base_rate}")
    poor_probability = min(2.0 * base_rate, (1.0 + base_rate) / 2.0)
    return Bands(good=100.0 * (1.0 - base_rate / 2.0), poor=100.0 * (1.0 - poor_probability))


def assign_bands(score: np.ndarray, thresholds: Bands) -> np.ndarray:
    """Band name per score (object array of ``good`` / ``average`` / ``poor``)."""
    good = np.asarray(score) >= thresholds.good
    poor = np.asarray(score) < thresholds.poor
    return np.where(good, "good", np.where(poor, "poor", "average")).astype(object)
