"""As-of dates: parsing the ``--every`` step and laying out snapshot dates.

Inside the SQL every date is an integer *day number* (days since 1970-01-01), so the feature
definitions are plain integer arithmetic that any engine runs the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

EPOCH = date(1970, 1, 1)
_EVERY = re.compile(r"^\s*(\d+)\s*(d|w|mo)\s*$")


@dataclass(frozen=True)
class Step:
    """A step between snapshot dates: ``count`` days, weeks or months."""

    count: int
    unit: str  # "d", "w" or "mo"

    def back(self, day: date, times: int) -> date:
        """The date ``times`` steps before ``day``."""
        if self.unit == "mo":
            return (pd.Timestamp(day) - pd.DateOffset(months=self.count * times)).date()
        days = self.count * (7 if self.unit == "w" else 1)
        return day - timedelta(days=days * times)


def parse_every(text: str) -> Step:
    """Parse a step such as ``7d``, ``2w`` or ``1mo``.

    Raises:
        ValueError: when the text is not ``<positive integer><d|w|mo>``.
    """
    match = _EVERY.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"--every {text!r} is not a step like 7d, 14d, 2w or 1mo")
    return Step(int(match.group(1)), match.group(2))


def snapshot_dates(start: date, end: date, every: Step) -> list[date]:
    """Snapshot dates from ``end`` back to ``start`` (both included), ``every`` apart, ascending.

    Laying dates out backwards from ``end`` keeps the newest snapshot on the end date whatever
    the start is.

    Raises:
        ValueError: when ``start`` is after ``end``.
    """
    if start > end:
        raise ValueError(f"--start {start} is after --end {end}")
    dates: list[date] = []
    k = 0
    while (day := every.back(end, k)) >= start:
        dates.append(day)
        k += 1
    return dates[::-1]


def to_day(value: date | datetime) -> int:
    """Day number (days since 1970-01-01) of a date or of a timestamp's calendar day."""
    if isinstance(value, datetime):
        value = value.date()
    return (value - EPOCH).days


def from_day(day: int) -> date:
    """The calendar date of a day number."""
    return EPOCH + timedelta(days=int(day))
