"""What customers and their CSMs say: support tickets, NPS / CSAT surveys and CSM sentiment.

Each follows its own side of the hidden health: support pain drives how many tickets an account
opens, how urgent they are, how long they take and how they are rated (and new accounts that
were activated poorly ask more); NPS follows the engagement of the executive sponsor (enterprise
NPS answers come from admins), survey CSAT the breadth and activity of use, and a CSM's rating
the account's churn risk as its segment weighs it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vitals.features.simulation.calendar import US_PER_DAY, Calendar
from vitals.features.simulation.draws import labels, utc_seconds
from vitals.features.simulation.health import ACTIVITY, ADOPTION, BREADTH, SPONSOR, SUPPORT, Health
from vitals.features.simulation.lifecycle import Lifecycle
from vitals.features.simulation.population import ENT, N_CSMS, Population

PRIORITIES = ("low", "normal", "high", "urgent")
_PRIORITY_LOGIT = np.log([0.3, 0.45, 0.18, 0.07])
_PRIORITY_HEALTH = np.array([0.4, 0.0, -0.7, -1.5])  # support pain -> more urgent
_RESOLVE_MEDIAN_H = np.array([50.0, 24.0, 8.0, 3.0])
#: tickets per week x seats ** 0.45 at no support pain, by segment (more with pain and users)
TICKETS_PER_WEEK = np.array([0.03, 0.08, 0.035])
_EARLY_TICKETS, _EARLY_DAYS = 1.5, 45.0  # extra tickets of new accounts, fading with age
SENTIMENT_P = np.array([0.45, 0.2, 0.04])  # chance of a CSM rating per account-month
_RATING_MEAN = np.array([0.45, 0.15, -0.15])  # CSM view of a typical account, by segment
RATINGS = ("red", "yellow", "green")
_FIRST = ("Alex", "Sam", "Priya", "Jonas", "Mei", "Carlos", "Fatima", "Liam")
_LAST = ("Kim", "Okafor", "Shah", "Berg", "Chen", "Ruiz", "Haddad", "Walsh")
CSMS = tuple(f"{_FIRST[i % 8]} {_LAST[(i + i // 8) % 8]}" for i in range(N_CSMS))
_COMMENTS = (
    ("Too expensive for what we use", "Reports are slow", "Support took too long to answer",
     "We are evaluating alternatives", "Missing integrations we need"),
    ("Does the job", "Onboarding could be smoother", "Would like more dashboards"),
    ("Love the dashboards", "Great support team", "Saves our team hours every week",
     "Easy to use"),
)  # fmt: skip
_NOTES = (
    ("Champion left the company", "Budget cuts announced", "Exec sponsor unresponsive",
     "Unhappy with support response times"),
    ("Low adoption in one team", "Renewal discussion pending", "Asked about pricing options"),
    ("Expanding to a new team", "Strong QBR", "Great engagement from admins"),
)  # fmt: skip


def _pick_text(
    rng: np.random.Generator, bank: tuple[tuple[str, ...], ...], band: np.ndarray, p: float
) -> pa.Array:
    """A text from ``bank[band]`` for a share ``p`` of rows, null for the rest."""
    flat = tuple(text for group in bank for text in group)
    first = np.cumsum([0, *[len(group) for group in bank]])[band]
    size = np.array([len(group) for group in bank])[band]
    code = first + (rng.random(len(band)) * size).astype(np.int64)
    return labels(flat, code, rng.random(len(band)) >= p)


def _place(
    rng: np.random.Generator,
    lifecycle: Lifecycle,
    rate: np.ndarray,
    first_day: np.ndarray,
    length: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw Poisson counts per account-period and a random covered day for each item.

    Args:
        rng: the random generator.
        lifecycle: used to keep only days on which the account was a customer.
        rate: expected items per account (rows) and period (columns).
        first_day: first day index of each period.
        length: number of days in each period.

    Returns:
        Account index and day index of every kept item.
    """
    counts = rng.poisson(np.maximum(rate, 0.0)).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    account, period = cell // rate.shape[1], cell % rate.shape[1]
    day = first_day[period] + (rng.random(cell.size) * length[period]).astype(np.int64)
    keep = lifecycle.seats_daily[day, account] > 0
    return account[keep], day[keep]


def _order(*keys: np.ndarray) -> np.ndarray:
    """Row order by the given keys, the first being the primary one."""
    return np.lexsort(keys[::-1])


def simulate_tickets(
    rng: np.random.Generator,
    pop: Population,
    health: Health,
    lifecycle: Lifecycle,
    calendar: Calendar,
) -> pa.Table:
    """Simulate the ``tickets`` table (ordered by account and opening time)."""
    weeks = calendar.weeks
    first = np.arange(weeks) * 7
    length = np.minimum(first + 7, calendar.days) - first
    mid_week = np.minimum(first + 3, calendar.days - 1)
    seats = lifecycle.seats_daily[mid_week].T
    pain = -health.observed[SUPPORT]
    age = mid_week[None, :] - pop.created_day[:, None]
    struggle = -0.8 * np.clip(health.activation_observed, -2.0, 2.0)[:, None]
    early = np.exp(struggle - np.maximum(age, 0) / _EARLY_DAYS)
    rate = TICKETS_PER_WEEK[pop.segment][:, None] * seats**0.45 * (1.0 + _EARLY_TICKETS * early)
    rate = rate * np.exp(np.clip(0.9 * pain + 0.5 * health.observed[ADOPTION], -2.5, 2.5))
    account, day = _place(rng, lifecycle, rate * (seats > 0), first, length)
    week = calendar.week_of_day[day]
    h = -pain[account, week] + rng.normal(0.0, 0.5, len(day))
    opened = calendar.timestamps_us(day, utc_seconds(rng, pop.region[account], 12.0, 3.0))
    order = _order(account, opened)
    account, day, h, opened = account[order], day[order], h[order], opened[order]

    logits = _PRIORITY_LOGIT + _PRIORITY_HEALTH * h[:, None]
    cumulative = np.cumsum(np.exp(logits), axis=1)
    priority = (rng.random((len(h), 1)) * cumulative[:, -1:] > cumulative).sum(axis=1)
    hours = _RESOLVE_MEDIAN_H[priority] * np.exp(rng.normal(-0.6 * h, 1.0))
    closed = opened + (hours * 3600).astype(np.int64) * 1_000_000
    end_us = (calendar.start_epoch_day + calendar.days) * US_PER_DAY
    still_open = (closed >= end_us) | (rng.random(len(h)) < 0.02)
    csat = np.clip(
        np.round(4.1 + 0.9 * h - 0.3 * np.log(hours / 24) + rng.normal(0, 0.8, len(h))), 1, 5
    )
    no_csat = still_open | (rng.random(len(h)) >= 0.45)
    ids = pa.array(np.argsort(np.argsort(opened, kind="stable")) + 1).cast(pa.string())  # by time
    return pa.table(
        {
            "account_id": pa.array(pop.account_id[account], pa.string()),
            "ticket_id": pc.binary_join_element_wise("T", pc.utf8_lpad(ids, 7, "0"), ""),
            "opened_at": pa.array(opened, pa.timestamp("us")),
            "closed_at": pa.array(closed, pa.timestamp("us"), mask=still_open),
            "priority": labels(PRIORITIES, priority),
            "csat": pa.array(csat, pa.float64(), mask=no_csat),
        }
    )


def simulate_surveys(
    rng: np.random.Generator,
    pop: Population,
    health: Health,
    lifecycle: Lifecycle,
    calendar: Calendar,
) -> pa.Table:
    """Simulate the ``surveys`` table: quarterly NPS campaigns plus a trickle of CSAT responses."""
    bounds = calendar.month_bounds
    first, length = bounds[:-1], np.diff(bounds)
    month_number = calendar.dates[first].astype("M8[M]").astype(np.int64) % 12 + 1
    campaign = np.isin(month_number, (1, 4, 7, 10))
    seats = lifecycle.seats_daily[np.minimum(first + length // 2, calendar.days - 1)].T
    mid_week = calendar.week_of_day[np.minimum(first + length // 2, calendar.days - 1)]
    sponsor = health.observed[SPONSOR]
    reach = seats**0.5 * np.exp(0.3 * sponsor[:, mid_week])  # disengaged sponsors answer less
    parts = []
    for kind, rate in (("nps", reach * np.where(campaign, 0.35, 0.03)), ("csat", reach * 0.06)):
        account, day = _place(rng, lifecycle, rate, first, length)
        week = calendar.week_of_day[day]
        if kind == "nps":
            h = sponsor[account, week]
            score = np.clip(np.round(7.6 + 1.8 * h + rng.normal(0, 1.6, len(h))), 0, 10)
            band = np.digitize(score, [7, 9])
        else:
            h = 0.6 * health.observed[BREADTH, account, week]
            h += 0.4 * health.observed[ACTIVITY, account, week]
            score = np.clip(np.round(4.0 + 0.7 * h + rng.normal(0, 0.7, len(h))), 1, 5)
            band = np.digitize(score, [3, 4])
        parts.append((account, day, np.full(len(h), kind), score, band))
    account, day, kind, score, band = (
        np.concatenate(column) for column in zip(*parts, strict=True)
    )
    responded = calendar.timestamps_us(day, utc_seconds(rng, pop.region[account], 11.0, 3.0))
    order = _order(account, responded)
    account, responded, kind, score, band = (
        account[order],
        responded[order],
        kind[order],
        score[order],
        band[order],
    )
    seats = lifecycle.seats_daily[day[order], account]
    admins = np.where(pop.segment[account] == ENT, np.maximum(1.0, np.round(seats**0.3)), seats)
    who = np.where(kind == "nps", admins, seats)  # enterprise NPS comes from the admins
    user = (who * rng.random(len(account))).astype(np.int64)
    return pa.table(
        {
            "account_id": pa.array(pop.account_id[account], pa.string()),
            "responded_at": pa.array(responded, pa.timestamp("us")),
            "kind": pa.array(kind, pa.string()),
            "score": pa.array(score, pa.float64()),
            "user_id": pc.binary_join_element_wise("u", pa.array(user).cast(pa.string()), ""),
            "comment": _pick_text(rng, _COMMENTS, band, 0.2),
        }
    )


def simulate_sentiment(
    rng: np.random.Generator,
    pop: Population,
    health: Health,
    lifecycle: Lifecycle,
    calendar: Calendar,
) -> pa.Table:
    """Simulate the ``sentiment`` table: occasional red / yellow / green ratings by the CSM."""
    bounds = calendar.month_bounds
    first, length = bounds[:-1], np.diff(bounds)
    rate = np.repeat(SENTIMENT_P[pop.segment][:, None], len(first), axis=1)
    account, day = _place(rng, lifecycle, rate, first, length)
    risk = health.risk[account, calendar.week_of_day[day]]
    h = _RATING_MEAN[pop.segment[account]] - 0.45 * risk + rng.normal(0.0, 0.45, len(day))
    rating = np.digitize(h, [-0.5, 0.15])
    recorded = calendar.timestamps_us(day, utc_seconds(rng, pop.region[account], 15.0, 2.0))
    order = _order(account, recorded)
    account, recorded, rating = account[order], recorded[order], rating[order]
    return pa.table(
        {
            "account_id": pa.array(pop.account_id[account], pa.string()),
            "recorded_at": pa.array(recorded, pa.timestamp("us")),
            "rating": labels(RATINGS, rating),
            "author": labels(CSMS, pop.csm[account], rng.random(len(account)) < 0.05),
            "note": _pick_text(rng, _NOTES, rating, 0.4),
        }
    )
