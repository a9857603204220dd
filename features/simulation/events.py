"""Product events: per account-day counts from seats and the health drivers, then expanded.

Each event gets a user (a pool of active users sized by seat adoption), a feature (breadth of
adoption, built up during onboarding as fast as the account was activated), a type (exports rise
with churn risk) and a value (session minutes, API call counts). The account's admins add
reporting events of their own, as often as the executive sponsor is engaged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vitals.features.simulation.calendar import Calendar
from vitals.features.simulation.draws import labels, sigmoid, utc_seconds
from vitals.features.simulation.health import ACTIVITY, ADOPTION, BREADTH, SPONSOR, Health
from vitals.features.simulation.lifecycle import Lifecycle
from vitals.features.simulation.population import Population

EVENT_TYPES = ("login", "session", "feature_use", "report_run", "export", "invite", "api_call")
_TYPE_P = np.array([0.2, 0.18, 0.36, 0.1, 0.03, 0.02, 0.11])
_LOGIN, _SESSION, _FEATURE_USE, _REPORT, _EXPORT, _INVITE, _API = range(7)
FEATURES = (
    "dashboards", "reports", "alerts", "integrations", "automations", "workflows", "forecasting",
    "segmentation", "data_import", "collaboration", "mobile_app", "audit_log", "admin", "billing",
    "api",
)  # fmt: skip
_API_FEATURE = len(FEATURES) - 1
_REPORTS = FEATURES.index("reports")
#: events per active user and weekday at activity 0, by segment (small teams use it harder)
RATE_PER_USER = np.array([0.036, 0.09, 0.29])
#: admin reporting events per admin and weekday at sponsor engagement 0, by segment
ADMIN_RATE = np.array([0.12, 0.06, 0.02])
_WEEKDAY = np.array([1.0, 1.05, 1.05, 1.0, 0.85, 0.22, 0.16])
#: log events per user per unit of activity, by segment (enterprise users work in it daily)
USAGE_ACTIVITY = np.array([0.5, 0.8, 1.2])
_ADMIN_SPONSOR = 1.0  # log admin events per unit of sponsor engagement
_RAMP_DAYS = 75  # new customers ramp up over their first weeks (faster when well activated)
_DAILY_SHAPE = 2.0  # gamma shape of day-to-day noise (lower = burstier)
_CHUNK_ACCOUNTS = 1000


def _day_factor(calendar: Calendar) -> np.ndarray:
    """Weekly seasonality and the year-end holiday dip, per day."""
    month_day = calendar.dates - calendar.dates.astype("M8[M]")
    month = calendar.dates.astype("M8[M]").astype(np.int64) % 12 + 1
    day = month_day.astype(np.int64) + 1
    holiday = ((month == 12) & (day >= 24)) | ((month == 1) & (day == 1))
    return _WEEKDAY[calendar.weekday] * np.where(holiday, 0.35, 1.0)


def _adopted(activation: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Features an account has taken up by its age: fast and many when well activated."""
    most = 1.0 + 10.0 * sigmoid(-0.3 + 1.8 * activation)
    days = 30.0 * np.exp(-0.6 * activation)
    taken = most * (1.0 - np.exp(-np.maximum(age, 0) / days))
    return np.round(taken + np.maximum(age - 120, 0) / 30)  # later use widens slowly


def _chunk(
    rng: np.random.Generator,
    pop: Population,
    health: Health,
    lifecycle: Lifecycle,
    calendar: Calendar,
    accounts: slice,
    intensity: np.ndarray,
    names: tuple[pa.Array, pa.Array],
) -> pa.RecordBatch:
    """The events of a slice of accounts, ordered by account and time.

    ``intensity`` is each account's usage multiplier; ``names`` holds the account ids and the
    user ids (``u0``, ``u1``, ...) as arrow strings, so each string is built once.
    """
    days = calendar.days
    seats = lifecycle.seats_daily[:, accounts].T  # accounts x days
    week = calendar.week_of_day
    adoption, activity, breadth_h, sponsor = (
        health.observed[d, accounts][:, week] for d in (ADOPTION, ACTIVITY, BREADTH, SPONSOR)
    )
    activation = health.activation_observed[accounts, None]
    age = np.arange(days)[None, :] - pop.created_day[accounts, None]
    ramp = np.clip(0.3 + 0.7 * age / (_RAMP_DAYS * np.exp(-0.8 * activation)), 0.3, 1.0)
    pool = np.maximum(1.0, np.round(seats * sigmoid(0.2 + 1.6 * adoption)))
    admins = np.maximum(1.0, np.round(seats**0.3))
    shape = _day_factor(calendar)[None, :] * ramp * (seats > 0)
    segment = pop.segment[accounts, None]
    users_rate = pool * RATE_PER_USER[segment] * intensity[accounts, None]
    users_rate = users_rate * np.exp(USAGE_ACTIVITY[segment] * activity) * shape
    admin_rate = admins * ADMIN_RATE[segment] * np.exp(_ADMIN_SPONSOR * sponsor) * shape
    rate = (users_rate + admin_rate) * rng.gamma(_DAILY_SHAPE, 1.0 / _DAILY_SHAPE, seats.shape)
    counts = rng.poisson(rate).ravel()
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    n = cell.size

    account = accounts.start + cell // days
    second = utc_seconds(rng, pop.region[account], 13.5, 2.8)
    key = np.sort(cell * 86_400 + second)  # events are i.i.d. within a cell: sort, then draw
    cell, second = key // 86_400, key % 86_400
    account, day = accounts.start + cell // days, cell % days
    admin_share = (admin_rate / np.maximum(users_rate + admin_rate, 1e-12)).ravel()[cell]
    by_admin = rng.random(n) < admin_share
    risk = health.risk[account, week[day]]

    kind = np.searchsorted(np.cumsum(_TYPE_P), rng.random(n) * _TYPE_P.sum(), side="right")
    exporting = rng.random(n) < np.minimum(0.02 * np.exp(0.6 * risk), 0.2)
    kind = np.where(exporting, _EXPORT, kind)
    kind = np.where(by_admin, _REPORT, kind)
    user = (pool.ravel()[cell] * rng.random(n) ** 1.7).astype(np.int32)
    user = np.where(by_admin, (admins.ravel()[cell] * rng.random(n)).astype(np.int32), user)
    no_user = (kind == _API) & (rng.random(n) < 0.6)
    mature = np.round(_API_FEATURE * sigmoid(0.3 + 2.2 * breadth_h.ravel()[cell]))
    breadth = np.clip(np.minimum(mature, _adopted(activation, age).ravel()[cell]), 2, _API_FEATURE)
    feature = (breadth * rng.random(n) ** 1.3).astype(np.int32)
    feature = np.where(kind == _API, _API_FEATURE, np.where(by_admin, _REPORTS, feature))
    no_feature = np.isin(kind, (_LOGIN, _SESSION, _INVITE))
    minutes = np.log(22.0) + 0.3 * activity.ravel()[cell]
    minutes = np.round(np.exp(rng.normal(minutes, 0.75)), 1)
    calls = np.ceil(np.exp(rng.normal(np.log(30.0), 1.1, n)))
    value = np.where(kind == _SESSION, minutes, calls)
    no_value = (kind != _SESSION) & (kind != _API)

    account_ids, user_ids = names
    return pa.record_batch(
        {
            "account_id": account_ids.take(pa.array(account)),
            "timestamp": pa.array(calendar.timestamps_us(day, second), pa.timestamp("us")),
            "event_type": labels(EVENT_TYPES, kind),
            "user_id": user_ids.take(pa.array(user, mask=no_user)),
            "feature": labels(FEATURES, feature, no_feature),
            "value": pa.array(value, pa.float64(), mask=no_value),
        }
    )


def simulate_events(
    rng: np.random.Generator,
    pop: Population,
    health: Health,
    lifecycle: Lifecycle,
    calendar: Calendar,
) -> pa.Table:
    """Simulate the ``events`` table.

    Args:
        rng: the random generator of this stage.
        pop: the accounts.
        health: their weekly health.
        lifecycle: their subscriptions (events happen only while covered).
        calendar: the simulated period.

    Returns:
        The events, ordered by account and timestamp.
    """
    intensity = rng.lognormal(0.0, 0.35, pop.size)  # some customers simply use the product more
    max_users = int(lifecycle.seats_daily.max()) + 1
    names = (
        pa.array(pop.account_id, pa.string()),
        pa.array([f"u{i}" for i in range(max_users)], pa.string()),
    )
    batches = []
    for first in range(0, pop.size, _CHUNK_ACCOUNTS):
        accounts = slice(first, min(first + _CHUNK_ACCOUNTS, pop.size))
        batches.append(_chunk(rng, pop, health, lifecycle, calendar, accounts, intensity, names))
    return pa.Table.from_batches(batches)
