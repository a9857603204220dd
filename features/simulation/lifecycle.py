"""Subscriptions day by day: arrivals, renewals, seat changes, churn and reactivation.

One loop step per day over all accounts at once. A contract renews every ``period`` months after
its start; at a renewal the account churns (the line ends on the renewal date, nothing follows),
changes seats (the line ends and a new one starts the next day) or simply renews.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from vitals.features.simulation.calendar import Calendar
from vitals.features.simulation.draws import sigmoid
from vitals.features.simulation.health import ADOPTION, Health
from vitals.features.simulation.population import MID, SMB, Population

#: mean churn probability per renewal reached: rows segment, columns (annual, monthly)
TARGET_CHURN = np.array([[0.07, 0.006], [0.17, 0.016], [0.32, 0.031]])
#: share of churn that ignores health (churn without warning), by segment: an enterprise renewal
#: is negotiated for months, an smb card simply stops being charged (business closed, card expired)
SURPRISE = np.array([0.1, 0.2, 0.35])
#: days before a renewal that the decision to leave is taken, by segment (the notice period of
#: an enterprise contract; an smb simply cancels before the next charge)
NOTICE_DAYS = np.array([60, 30, 0])
_PARENT_OFFSET = -1.0  # a parent's own small contract rarely lapses
_REACTIVATION_P = 0.08
_SEAT_CHANGE_P = np.array([0.45, 0.08])  # at a renewal: (annual, monthly)
_SEAT_GROWTH = np.array([0.15, 0.15, 0.1])  # yearly log growth of the seats a customer needs
#: log seats needed per unit of adoption above the account's own level, and log seats given up
#: per unit of churn risk (clipped: winding down cuts seats, low risk alone adds none)
_SEAT_ADOPTION, _SEAT_RISK, _RISK_CLIP = 0.6, 0.3, (-1.0, 3.0)
_MAX_SEATS = 5000
_TO_ANNUAL_P = 0.08  # a monthly mid-market / smb account moving to annual at a seat change
_PENDING, _ACTIVE, _LAPSED, _NONE = 0, 1, 2, 3
_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Lifecycle:
    """The subscription history.

    Attributes:
        seats_daily: seats of the covering line per day and account (``float32``, days x
            accounts; 0 = not a customer that day).
        lines: one entry per subscription line: ``account``, ``start``, ``end`` (day indices,
            ``-1`` end = still running), ``seats``, ``mrr``, ``discount`` (NaN = unknown),
            ``period`` (months).
    """

    seats_daily: np.ndarray
    lines: dict[str, np.ndarray]


def _calibrate(health: Health, pop: Population, offset: np.ndarray) -> np.ndarray:
    """Intercepts per (segment, monthly) so churn at a renewal averages the target.

    The average is over the renewals customers actually reach: each account's renewals are
    followed with its chance of still being a customer, so accounts at high risk, which leave
    early, do not pull the rate below the target.
    """
    intercept = np.zeros_like(TARGET_CHURN)
    weeks = health.risk.shape[1]
    for segment in range(3):
        rows = np.flatnonzero((pop.segment == segment) & pop.has_subscription)
        for monthly, step in ((0, 52), (1, 4)):
            phase = (pop.created_day[rows] // 7) % step
            at = phase[:, None] + step * np.arange(-(-weeks // step))[None, :]
            reached = (at < weeks) & (at * 7 >= pop.created_day[rows, None])
            risk = health.risk[rows[:, None], np.minimum(at, weeks - 1)] + offset[rows, None]
            target, surprise = TARGET_CHURN[segment, monthly], SURPRISE[segment]
            lo, hi = -15.0, 10.0
            for _ in range(40):
                mid = (lo + hi) / 2
                p = np.where(reached, surprise * target + (1 - surprise) * sigmoid(mid + risk), 0)
                kept = np.cumprod(1.0 - p, axis=1)
                alive = np.concatenate([np.ones((len(rows), 1)), kept[:, :-1]], axis=1)
                mean = (alive * p).sum() / max((alive * reached).sum(), 1.0)
                lo, hi = (mid, hi) if mean < target else (lo, mid)
            intercept[segment, monthly] = (lo + hi) / 2
    return intercept


class _Book:
    """Contract state per account plus the closed lines, advanced one day at a time."""

    def __init__(self, pop: Population, calendar: Calendar) -> None:
        n = pop.size
        self.calendar = calendar
        self.status = np.where(
            ~pop.has_subscription, _NONE, np.where(pop.created_day < 0, _ACTIVE, _PENDING)
        )
        self.period = np.where(pop.annual, 12, 1)
        self.seats = pop.seats.copy()
        self.discount = pop.discount.copy()
        self.price = pop.price
        self.start = pop.created_day.copy()
        self.renewals = np.zeros(n, dtype=np.int64)
        self.next_renewal = np.full(n, _NEVER)
        self.back_day = np.full(n, _NEVER)
        self.needed = pop.seats.copy()  # seats the customer needs at its own health level
        self.closed: list[dict[str, np.ndarray]] = []
        running = np.flatnonzero(self.status == _ACTIVE)
        start_month = np.datetime64(calendar.start, "M")
        anchor = np.datetime64(calendar.start, "D") + self.start[running]
        months_ago = (start_month - anchor.astype("M8[M]")).astype(np.int64)
        k = np.maximum(1, -(-months_ago // self.period[running]))
        due = calendar.add_months(self.start[running], k * self.period[running])
        k = np.where(due < 0, k + 1, k)
        self.renewals[running] = k
        self.next_renewal[running] = calendar.add_months(
            self.start[running], k * self.period[running]
        )

    def open(self, idx: np.ndarray, day: int) -> None:
        """Start a new line for ``idx`` on ``day``."""
        self.status[idx] = _ACTIVE
        self.start[idx] = day
        self.renewals[idx] = 1
        self.next_renewal[idx] = self.calendar.add_months(np.full(len(idx), day), self.period[idx])

    def close(self, idx: np.ndarray, day: int) -> None:
        """End the current line of ``idx`` on ``day``."""
        self.closed.append(self._lines(idx, np.full(len(idx), day)))

    def advance(self, idx: np.ndarray) -> None:
        """Renew ``idx`` unchanged: move to the next renewal date of the same line."""
        self.renewals[idx] += 1
        self.next_renewal[idx] = self.calendar.add_months(
            self.start[idx], self.renewals[idx] * self.period[idx]
        )

    def _lines(self, idx: np.ndarray, end: np.ndarray) -> dict[str, np.ndarray]:
        discount = self.discount[idx]
        return {
            "account": idx,
            "start": self.start[idx].copy(),
            "end": end,
            "seats": self.seats[idx].copy(),
            "mrr": np.round(self.seats[idx] * self.price[idx] * (1 - np.nan_to_num(discount)), 2),
            "discount": discount.copy(),
            "period": self.period[idx].copy(),
        }

    def all_lines(self) -> dict[str, np.ndarray]:
        """Closed lines plus the still-running ones (end ``-1``), sorted by account and start."""
        running = np.flatnonzero(self.status == _ACTIVE)
        parts = [*self.closed, self._lines(running, np.full(len(running), -1))]
        lines = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        order = np.lexsort((lines["start"], lines["account"]))
        return {key: value[order] for key, value in lines.items()}


def _renew(
    rng: np.random.Generator,
    book: _Book,
    stay: np.ndarray,
    week: int,
    pop: Population,
    health: Health,
    day: int,
) -> None:
    """Renew the accounts ``stay`` on ``day``, moving their seats toward what they need.

    The seats a customer needs grow with expansion, follow its seat adoption relative to its own
    level and shrink with its churn risk: seats left idle, or a customer winding down, are cut at
    the renewal (a downsell), often before a churn, and a recovery adds them back.
    """
    period = book.period[stay]
    book.needed[stay] *= np.exp(_SEAT_GROWTH[pop.segment[stay]] * period / 12)
    adoption = health.drivers[ADOPTION, stay, week] - health.level[ADOPTION, stay]
    use = _SEAT_ADOPTION * adoption - _SEAT_RISK * np.clip(health.risk[stay, week], *_RISK_CLIP)
    target = book.needed[stay] * np.exp(use)
    gap = np.log(target / book.seats[stay])
    change_p = np.minimum(_SEAT_CHANGE_P[(period == 1).astype(int)] * (1 + 4 * np.abs(gap)), 0.95)
    new_seats = book.seats[stay] * np.exp(0.8 * gap + rng.normal(0.0, 0.08, len(stay)))
    new_seats = np.clip(np.round(new_seats), 1, _MAX_SEATS)
    changed = (rng.random(len(stay)) < change_p) & (new_seats != book.seats[stay])
    changed &= day + 1 < book.calendar.days  # a new line may not start at or after the end
    moved = stay[changed]
    book.close(moved, day)
    book.seats[moved] = new_seats[changed]
    to_annual = (
        (book.period[moved] == 1)
        & np.isin(pop.segment[moved], (MID, SMB))
        & (rng.random(len(moved)) < _TO_ANNUAL_P)
    )
    book.period[moved[to_annual]] = 12
    book.open(moved, day + 1)
    book.advance(stay[~changed])


def simulate_lifecycle(
    rng: np.random.Generator, pop: Population, health: Health, calendar: Calendar
) -> Lifecycle:
    """Run the subscriptions of every account through the period.

    Args:
        rng: the random generator of this stage.
        pop: the accounts.
        health: their weekly health.
        calendar: the simulated period.

    Returns:
        Daily seats and the subscription lines.
    """
    target = TARGET_CHURN[pop.segment]
    is_parent = np.bincount(pop.parent[pop.parent >= 0], minlength=pop.size) > 0
    offset = pop.churn_offset + np.where(is_parent, _PARENT_OFFSET, 0.0)
    intercept = _calibrate(health, pop, offset)
    book = _Book(pop, calendar)
    seats_daily = np.zeros((calendar.days, pop.size), dtype=np.float32)
    for day in range(calendar.days):
        starting = np.flatnonzero(
            ((book.status == _PENDING) & (pop.created_day == day))
            | ((book.status == _LAPSED) & (book.back_day == day))
        )
        if starting.size:
            back = starting[book.status[starting] == _LAPSED]
            book.needed[back] *= rng.lognormal(-0.2, 0.3, len(back))
            book.seats[back] = np.maximum(1, np.round(book.needed[back]))
            book.open(starting, day)
        seats_daily[day] = np.where(book.status == _ACTIVE, book.seats, 0.0)
        due = np.flatnonzero((book.status == _ACTIVE) & (book.next_renewal == day))
        if not due.size:
            continue
        week = calendar.week_of_day[day]
        monthly = (book.period[due] == 1).astype(int)
        notice = np.where(monthly == 1, 0, NOTICE_DAYS[pop.segment[due]])
        decided = calendar.week_of_day[np.maximum(day - notice, 0)]
        hazard = sigmoid(
            intercept[pop.segment[due], monthly] + health.risk[due, decided] + offset[due]
        )
        base = target[due, monthly]
        surprise = SURPRISE[pop.segment[due]]
        churn = rng.random(len(due)) < surprise * base + (1 - surprise) * hazard
        gone = due[churn]
        book.close(gone, day)
        book.status[gone] = _LAPSED
        seats_daily[day, gone] = 0.0
        comeback = rng.random(len(gone)) < _REACTIVATION_P
        book.back_day[gone] = np.where(comeback, day + rng.integers(45, 365, len(gone)), _NEVER)

        _renew(rng, book, due[~churn], week, pop, health, day)
    return Lifecycle(seats_daily=seats_daily, lines=book.all_lines())


def subscriptions_table(lifecycle: Lifecycle, pop: Population, calendar: Calendar) -> pa.Table:
    """The ``subscriptions`` contract table of the simulated lines."""
    lines = lifecycle.lines
    epoch = calendar.start_epoch_day
    running = lines["end"] < 0
    return pa.table(
        {
            "account_id": pa.array(pop.account_id[lines["account"]], pa.string()),
            "start_date": pa.array((lines["start"] + epoch).astype(np.int32), pa.date32()),
            "end_date": pa.array(
                (lines["end"] + epoch).astype(np.int32), pa.date32(), mask=running
            ),
            "mrr": pa.array(lines["mrr"], pa.float64()),
            "seats": pa.array(lines["seats"], pa.float64()),
            "product": pa.array(np.full(len(running), "platform", dtype=object), pa.string()),
            "discount": pa.array(lines["discount"], pa.float64(), from_pandas=True),
            "billing_period_months": pa.array(lines["period"], pa.int64()),
        }
    )
