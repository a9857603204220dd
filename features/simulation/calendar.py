"""The simulated period as day indices, and calendar arithmetic on arrays of them.

Day ``0`` is the first day of the period and ``days - 1`` the last; negative indices are days
before the period (accounts and contracts that already existed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import numpy as np

US_PER_DAY = 86_400_000_000


def months_before(end: date, months: int) -> date:
    """The date ``months`` calendar months before ``end`` (day clipped to the month's length).

    Args:
        end: the reference date.
        months: how many calendar months to go back (>= 0).

    Returns:
        The earlier date.
    """
    total = end.year * 12 + end.month - 1 - months
    year, month0 = divmod(total, 12)
    first = date(year, month0 + 1, 1)
    next_first = date(year + (month0 + 1) // 12, (month0 + 1) % 12 + 1, 1)
    return first + timedelta(days=min(end.day, (next_first - first).days) - 1)


@dataclass(frozen=True)
class Calendar:
    """The simulated period ``[start, end)`` with per-day lookup arrays."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days

    @property
    def weeks(self) -> int:
        """Number of (possibly partial) 7-day weeks covering the period."""
        return -(-self.days // 7)

    @property
    def start_epoch_day(self) -> int:
        """Days from 1970-01-01 to ``start``."""
        return (self.start - date(1970, 1, 1)).days

    @cached_property
    def dates(self) -> np.ndarray:
        """``datetime64[D]`` of every day of the period."""
        return np.datetime64(self.start, "D") + np.arange(self.days)

    @cached_property
    def week_of_day(self) -> np.ndarray:
        """Week index of every day."""
        return np.arange(self.days) // 7

    @cached_property
    def weekday(self) -> np.ndarray:
        """Weekday (0 = Monday) of every day."""
        return (self.dates.astype(np.int64) + 3) % 7

    @cached_property
    def month_bounds(self) -> np.ndarray:
        """First day index of every calendar month touching the period, plus ``days`` at the end."""
        months = np.unique(self.dates.astype("M8[M]"))
        firsts = (months.astype("M8[D]") - np.datetime64(self.start, "D")).astype(np.int64)
        return np.append(np.maximum(firsts, 0), self.days)

    def add_months(self, day: np.ndarray, months: np.ndarray | int) -> np.ndarray:
        """Shift day indices by whole calendar months, clipping the day to the target month.

        Args:
            day: day indices (may be negative).
            months: months to add, one per day or a scalar.

        Returns:
            The shifted day indices (``int64``).
        """
        origin = np.datetime64(self.start, "D")
        when = origin + np.asarray(day, dtype=np.int64)
        month = when.astype("M8[M]")
        day_of_month = (when - month.astype("M8[D]")).astype(np.int64)
        target = month + np.asarray(months, dtype=np.int64)
        length = ((target + 1).astype("M8[D]") - target.astype("M8[D]")).astype(np.int64)
        shifted = target.astype("M8[D]") + np.minimum(day_of_month, length - 1)
        return (shifted - origin).astype(np.int64)

    def timestamps_us(self, day: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Microseconds since the epoch (UTC) of a day index plus seconds into that day."""
        return (self.start_epoch_day + day.astype(np.int64)) * US_PER_DAY + second.astype(
            np.int64
        ) * 1_000_000
