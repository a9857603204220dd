"""The hidden, time-varying health of every account: a weekly AR(1) process with drift and shocks.

Churn hazard and every observable sign (usage, adoption, tickets, surveys, CSM ratings) are driven
by this one latent series, so the signs move weeks to months before a churn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.simulation.population import Population

#: mean health level by segment (enterprise healthiest)
MU_SEGMENT = np.array([0.45, 0.15, -0.15])
_LEVEL_SD = 0.3  # spread of account levels around the segment mean
_PHI = 0.96  # weekly persistence
_NOISE_SD = 0.15
_DRIFT_SD = 0.006  # per-week drift of an account's level
_SHOCK_DOWN_P, _SHOCK_UP_P = 0.006, 0.003  # weekly probability of a shock (champion leaves, ...)
_GROUP_SHARE = 0.6  # weight of the hierarchy's shared component for business units and products
_OBSERVED_BIAS_SD = 0.35  # persistent gap between true health and what the signs show
_SMOOTH_WEEKS = 4


@dataclass(frozen=True)
class Health:
    """Weekly health per account (``float32``, shape accounts x weeks).

    Attributes:
        level: each account's own mean health at the start (``float64``, per account).
        latent: the true health (what churn depends on).
        smoothed: ``latent`` averaged over the last few weeks (the churn decision uses it).
        observed: ``latent`` plus a persistent per-account bias: what usage and feedback reflect.
    """

    level: np.ndarray
    latent: np.ndarray
    smoothed: np.ndarray
    observed: np.ndarray


def _mix_group(values: np.ndarray, pop: Population) -> np.ndarray:
    """Blend each hierarchy member's draw with its top account's, keeping the variance near 1."""
    shared = values[pop.root]
    member = pop.parent >= 0
    own = np.sqrt(1.0 - _GROUP_SHARE**2)
    return np.where(member, _GROUP_SHARE * shared + own * values, values)


def simulate_health(rng: np.random.Generator, pop: Population, weeks: int) -> Health:
    """Simulate the weekly health of every account over the period.

    Args:
        rng: the random generator of this stage.
        pop: the accounts.
        weeks: number of weeks in the period.

    Returns:
        The latent, smoothed and observed health matrices.
    """
    n = pop.size
    level = MU_SEGMENT[pop.segment] + _LEVEL_SD * _mix_group(rng.standard_normal(n), pop)
    drift = rng.normal(0.0, _DRIFT_SD, n)
    stationary_sd = _NOISE_SD / np.sqrt(1.0 - _PHI**2)
    h = level + stationary_sd * rng.standard_normal(n)
    latent = np.empty((n, weeks), dtype=np.float32)
    for week in range(weeks):
        mean = level + drift * week
        shock = np.where(
            rng.random(n) < _SHOCK_DOWN_P,
            -rng.uniform(0.8, 1.8, n),
            np.where(rng.random(n) < _SHOCK_UP_P, rng.uniform(0.4, 1.0, n), 0.0),
        )
        noise = _NOISE_SD * _mix_group(rng.standard_normal(n), pop)
        h = mean + _PHI * (h - mean) + noise + shock
        latent[:, week] = h
    padded = np.concatenate([np.repeat(latent[:, :1], _SMOOTH_WEEKS - 1, axis=1), latent], axis=1)
    window = np.cumsum(padded, axis=1, dtype=np.float64)
    window[:, _SMOOTH_WEEKS:] -= window[:, :-_SMOOTH_WEEKS]
    smoothed = (window[:, _SMOOTH_WEEKS - 1 :] / _SMOOTH_WEEKS).astype(np.float32)
    bias = rng.normal(0.0, _OBSERVED_BIAS_SD, n).astype(np.float32)
    return Health(level=level, latent=latent, smoothed=smoothed, observed=latent + bias[:, None])
