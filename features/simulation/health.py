"""The hidden, time-varying health of every account, and what puts each segment at risk.

Health has several sides (the *drivers*): seat adoption, the executive sponsor's engagement,
support pain, feature breadth and day-to-day activity. Each is a weekly AR(1) series around a
slowly wandering level, with shocks and gradual fades, sharing part of its movement with one
common health series. What a churn decision weighs differs by segment, as in real customer bases:
enterprise renewals turn on seat utilisation and the sponsor, mid-market ones on support pain and
breadth, smb cancellations on activity against the account's own habit and its recent trend, and
any account in its first months on how well it was activated. Every observable sign (usage,
tickets, surveys, seat changes) follows the driver it belongs to, so the signs move weeks to
months before a churn, but which signs matter depends on the segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vitals.features.simulation.population import Population

DRIVERS = ("adoption", "sponsor", "support", "breadth", "activity")
ADOPTION, SPONSOR, SUPPORT, BREADTH, ACTIVITY = range(len(DRIVERS))
#: mean level of each driver (columns) by segment (rows: enterprise, mid-market, smb)
MU = np.array(
    [[0.3, 0.3, 0.15, 0.3, 0.0], [0.1, 0.1, 0.0, 0.1, 0.0], [-0.1, -0.1, 0.0, -0.1, -0.1]]
)
#: log-odds of churn lost per unit of each driver (columns, then the activity trend), by segment;
#: smb churn ignores the sponsor (NPS) and enterprise churn day-to-day activity (raw logins)
WEIGHT = np.array(
    [
        [0.6, 0.5, 0.2, 0.2, 0.0, 0.0],  # enterprise: seat utilisation, executive sponsor
        [0.2, 0.1, 0.6, 0.5, 0.2, 0.0],  # mid-market: support pain, feature breadth
        [0.2, 0.0, 0.1, 0.2, 1.6, 4.0],  # smb: activity and its 4-week trend
    ]
)
#: per segment, two drivers of which the weaker decides a renewal, and the log-odds per unit of
#: it: an enterprise renewal fails when the seats sit idle *or* the sponsor has gone; a
#: mid-market one when support hurts *or* use is too shallow to make leaving costly
WEAKEST_LINK = ((ADOPTION, SPONSOR, 3.2), (SUPPORT, BREADTH, 3.2), (ACTIVITY, ACTIVITY, 0.0))
_SOFTNESS = 3.0  # sharpness of the soft minimum of the two
#: log-odds of churn lost per unit of activation, and extra log-odds while onboarding
ACTIVATION_WEIGHT, ONBOARDING_SHIFT = 3.2, 0.3
ONBOARDING_DAYS = 90  # activation alone decides up to here, then fades out over as long again
#: weeks of each driver a churn decision looks back over, by segment (enterprise renewals weigh
#: the last quarter, smb cancellations the last couple of weeks), and the span of the smb trend
SMOOTH_WEEKS = (13, 6, 3)
TREND_WEEKS = 4
_COMMON_LOAD = 0.3  # weight of the common health in every driver
_LEVEL_SD = 0.3  # spread of account levels around the segment mean
_PHI = 0.96  # weekly persistence
_NOISE_SD = 0.15
_SLOW_KEEP, _SLOW_SD = 0.99, 0.3  # slow wandering of an account's level: persistence, spread
_BURN_IN_WEEKS = 52
_SHOCK_P = 0.004  # weekly chance of a drop of the common health (budget cuts, ...)
_DRIVER_SHOCK_P = 0.005  # weekly chance of a drop of one driver (champion leaves, outage, ...)
_FADE_P, _FADE_WEEKS = 0.015, (3, 10)  # activity fading (or picking up) over a few weeks
_FADE_DOWN_SHARE, _FADE_KEEP = 0.65, 0.97  # share of fades that go down; weekly persistence
_GROUP_SHARE = 0.6  # weight of the hierarchy's shared component for business units and products
_OBSERVED_BIAS_SD = 0.15  # persistent gap between a true driver and what its signs show
_ACTIVATION_SIGN_SD = 0.35  # noise between activation and how it shows in onboarding usage
_ACTIVATION_SIGNS = 0.8  # how strongly activation shows in usage while onboarding


@dataclass(frozen=True)
class Health:
    """Weekly health per account.

    Attributes:
        latent: the common hidden health (``float32``, accounts x weeks).
        level: each account's own mean level of every driver (``float64``, drivers x accounts).
        drivers: the true drivers (``float32``, drivers x accounts x weeks).
        observed: the drivers plus a persistent per-account bias: what the signs reflect.
        activation: how well each account was onboarded (true, per account).
        activation_observed: activation as its onboarding usage and tickets show it.
        risk: log-odds of churn per week (before the segment's intercept) from the drivers the
            account's segment (or its onboarding) weighs, over the weeks that segment looks at.
    """

    latent: np.ndarray
    level: np.ndarray
    drivers: np.ndarray
    observed: np.ndarray
    activation: np.ndarray
    activation_observed: np.ndarray
    risk: np.ndarray


def _mix_group(values: np.ndarray, pop: Population) -> np.ndarray:
    """Blend each hierarchy member's draw with its top account's, keeping the variance near 1."""
    shared = values[..., pop.root]
    member = pop.parent >= 0
    own = np.sqrt(1.0 - _GROUP_SHARE**2)
    return np.where(member, _GROUP_SHARE * shared + own * values, values)


def _smooth(series: np.ndarray, weeks: int) -> np.ndarray:
    """Trailing mean over ``weeks`` weeks along the last axis (the first week repeated)."""
    head = np.repeat(series[..., :1], weeks - 1, axis=-1)
    window = np.cumsum(np.concatenate([head, series], axis=-1), axis=-1, dtype=np.float64)
    window[..., weeks:] -= window[..., :-weeks]
    return (window[..., weeks - 1 :] / weeks).astype(np.float32)


def _lagged(series: np.ndarray, weeks: int) -> np.ndarray:
    """``series`` as it was ``weeks`` weeks earlier (the first week repeated)."""
    return np.concatenate([np.repeat(series[:, :1], weeks, axis=1), series[:, :-weeks]], axis=1)


def _shocks(rng: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    """Sudden drops of weekly probability ``p``, and half as many recoveries."""
    u = rng.random(shape)
    return np.where(
        u < p,
        -rng.uniform(0.8, 1.8, shape),
        np.where(u > 1.0 - p / 2, rng.uniform(0.4, 1.0, shape), 0.0),
    )


def _series(rng: np.random.Generator, pop: Population, weeks: int) -> tuple[np.ndarray, ...]:
    """Common health, driver levels and the true drivers, one vectorised step per week.

    The processes run ``_BURN_IN_WEEKS`` before the period so that they start settled: churn
    rates and the spread of health stay level through the period.
    """
    n, k = pop.size, len(DRIVERS)
    stationary_sd = _NOISE_SD / np.sqrt(1.0 - _PHI**2)
    slow_step = _SLOW_SD * np.sqrt(1.0 - _SLOW_KEEP**2)
    common_level = _LEVEL_SD * _mix_group(rng.standard_normal(n), pop)
    level = MU[pop.segment].T + _LEVEL_SD * _mix_group(rng.standard_normal((k, n)), pop)
    slow = _SLOW_SD * rng.standard_normal((k + 1, n))  # per driver, the last for the common health
    h = common_level + slow[k] + stationary_sd * rng.standard_normal(n)
    own = stationary_sd * rng.standard_normal((k, n))
    fade, fade_left, fade_step = np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n)
    latent = np.empty((n, weeks), dtype=np.float32)
    drivers = np.empty((k, n, weeks), dtype=np.float32)
    for week in range(-_BURN_IN_WEEKS, weeks):
        slow = _SLOW_KEEP * slow + slow_step * rng.standard_normal((k + 1, n))
        mean = common_level + slow[k]
        noise = _NOISE_SD * _mix_group(rng.standard_normal(n), pop)
        h = mean + _PHI * (h - mean) + noise + _shocks(rng, (n,), _SHOCK_P)
        noise = _NOISE_SD * _mix_group(rng.standard_normal((k, n)), pop)
        own = _PHI * own + noise + _shocks(rng, (k, n), _DRIVER_SHOCK_P)
        starting = (fade_left == 0) & (rng.random(n) < _FADE_P)
        fade_left = np.where(starting, rng.integers(*_FADE_WEEKS, n), fade_left)
        direction = np.where(rng.random(n) < _FADE_DOWN_SHARE, -1.0, 1.0)
        fade_step = np.where(starting, direction * rng.uniform(0.15, 0.35, n), fade_step)
        fade = _FADE_KEEP * fade + np.where(fade_left > 0, fade_step, 0.0)
        fade = np.where(week * 7 < pop.created_day, 0.0, fade)  # no fading before arrival
        fade_left = np.maximum(fade_left - 1, 0)
        if week >= 0:
            latent[:, week] = h
            drivers[:, :, week] = level + slow[:k] + _COMMON_LOAD * h + own
            drivers[ACTIVITY, :, week] += fade
    return latent, level, drivers


def _onboarding_share(pop: Population, weeks: int) -> np.ndarray:
    """1 while activation alone decides churn, falling to 0 over ``ONBOARDING_DAYS`` more days."""
    age = (np.arange(weeks) * 7 + 3)[None, :] - pop.created_day[:, None]
    return np.clip(2.0 - age / ONBOARDING_DAYS, 0.0, 1.0).astype(np.float32)


def _risk(
    pop: Population, drivers: np.ndarray, level: np.ndarray, activation: np.ndarray
) -> np.ndarray:
    """Log-odds of churn per account-week from the drivers its segment and age weigh.

    Each segment's part is centred on its mean, so the intercepts of the lifecycle alone set the
    segments' churn rates.
    """
    risk = np.empty(drivers.shape[1:], dtype=np.float32)
    for segment, weeks in enumerate(SMOOTH_WEEKS):
        rows = pop.segment == segment
        if not rows.any():
            continue
        recent = _smooth(drivers[:, rows], weeks) - MU[segment][:, None, None]
        # activity counts against the account's own habit: a team that always used it lightly
        # is fine, one that stopped is not
        recent[ACTIVITY] -= (level[ACTIVITY, rows] - MU[segment, ACTIVITY])[:, None]
        weight = WEIGHT[segment]
        trend = recent[ACTIVITY] - _lagged(recent[ACTIVITY], TREND_WEEKS)
        first, second, link = WEAKEST_LINK[segment]
        weaker = -np.logaddexp(-_SOFTNESS * recent[first], -_SOFTNESS * recent[second])
        own = -np.tensordot(weight[: len(DRIVERS)], recent, axes=1) - weight[-1] * trend
        own -= link * weaker / _SOFTNESS
        risk[rows] = own - own.mean()
    onboarding = _onboarding_share(pop, drivers.shape[2])
    early = ONBOARDING_SHIFT - ACTIVATION_WEIGHT * activation[:, None]
    return ((1.0 - onboarding) * risk + onboarding * early).astype(np.float32)


def simulate_health(rng: np.random.Generator, pop: Population, weeks: int) -> Health:
    """Simulate the weekly health of every account over the period.

    Args:
        rng: the random generator of this stage.
        pop: the accounts.
        weeks: number of weeks in the period.

    Returns:
        The common health, the drivers, activation and the churn risk.
    """
    latent, level, drivers = _series(rng, pop, weeks)
    activation = rng.standard_normal(pop.size)
    activation_observed = activation + rng.normal(0.0, _ACTIVATION_SIGN_SD, pop.size)
    # a well-activated customer keeps more seats busy and more features in use later on
    for driver in (ADOPTION, BREADTH):
        level[driver] += 0.2 * activation
        drivers[driver] += (0.2 * activation).astype(np.float32)[:, None]
    observed = drivers + rng.normal(0.0, _OBSERVED_BIAS_SD, (len(DRIVERS), pop.size, 1))
    # while onboarding, users, activity and features show how well the account was activated
    onboarding = _onboarding_share(pop, weeks) * activation_observed[:, None]
    for driver in (ADOPTION, BREADTH, ACTIVITY):
        observed[driver] += _ACTIVATION_SIGNS * onboarding
    return Health(
        latent=latent,
        level=level,
        drivers=drivers,
        observed=observed.astype(np.float32),
        activation=activation,
        activation_observed=activation_observed,
        risk=_risk(pop, drivers, level, activation),
    )
