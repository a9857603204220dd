"""Health score and band from a calibrated churn probability.

Score: ``health = 100 * (1 - p) ** e``, where ``p`` is the calibrated, calendar-free probability of
churning within the horizon and ``e`` stretches it to a year at the same rate (``365 / horizon``;
1 for models saved before the survival curve, whose ``p`` was the horizon's risk). It is strictly
decreasing in ``p`` and reads directly: health 80 means an 80 % chance of still being a customer
a year on, with today's behaviour held, in every profile.

Band: ``good`` when the score is at or above the profile's ``good`` threshold, ``poor`` when it is
below its ``poor`` threshold, ``average`` in between. Thresholds come from the profile's rule
(:class:`~vitals.models.profiles.ProfileRule`); a profile without them gets defaults from its base
churn rate ``r`` (the share of churners in its training window):

* good: ``p <= r / 2`` -- at most half the profile's usual risk: ``good = 100 * (1 - r / 2)^e``;
* poor: ``p > min(2 r, (1 + r) / 2)`` -- above twice the usual risk (or half-way from ``r`` to
  certainty when ``2 r`` would pass it), i.e. ``poor = 100 * (1 - min(2 r, (1 + r) / 2))^e``.
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


def health_score(probability: np.ndarray, exponent: float = 1.0) -> np.ndarray:
    """Health score 0-100 of calibrated churn probabilities: ``100 * (1 - p) ** exponent``.

    The exponent turns a survival over the probability's horizon into one over a longer span at
    the same churn rate (see :func:`vitals.models.survival.health_exponent`).
    """
    return 100.0 * (1.0 - probability) ** exponent


def default_bands(base_rate: float, exponent: float = 1.0) -> Bands:
    """Band thresholds derived from a profile's base churn rate (rule in the module docstring).

    Args:
        base_rate: share of churners in the profile's training window, in (0, 1).
        exponent: the health score's exponent (see :func:`health_score`).

    Returns:
        The ``good`` and ``poor`` score thresholds.

    Raises:
        ValueError: when the base rate is outside (0, 1).
    """
    if not 0.0 < base_rate < 1.0:
        raise ValueError(f"base churn rate must be in (0, 1), got {base_rate}")
    poor_probability = min(2.0 * base_rate, (1.0 + base_rate) / 2.0)
    good = health_score(np.float64(base_rate / 2.0), exponent)
    poor = health_score(np.float64(poor_probability), exponent)
    return Bands(good=float(good), poor=float(poor))


def assign_bands(score: np.ndarray, thresholds: Bands) -> np.ndarray:
    """Band name per score (object array of ``good`` / ``average`` / ``poor``)."""
    good = np.asarray(score) >= thresholds.good
    poor = np.asarray(score) < thresholds.poor
    return np.where(good, "good", np.where(poor, "poor", "average")).astype(object)
