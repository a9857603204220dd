"""Chart data for the console: inline SVG sparklines and the series the account page plots.

Sparklines are drawn on the server, one small SVG path per worklist row, so a page of rows costs
no script and pages in with the rows. The larger charts are drawn in the browser by uPlot from the
series built here (``data-chart`` JSON, see ``static/console.js``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

HEALTH_RANGE = (0.0, 100.0)


@dataclass(frozen=True)
class Sparkline:
    """A health series as an SVG polyline, with its words for screen readers."""

    points: str
    last_x: float
    last_y: float
    label: str


def sparkline(
    series: list[tuple[date, float]], start: date, end: date, width: int = 120, height: int = 28
) -> Sparkline | None:
    """The series placed on ``start``..``end`` by date and on 0..100 by health (``None``: empty)."""
    if not series:
        return None
    span = max((end - start).days, 1)
    low, high = HEALTH_RANGE
    pad = 2.0

    def place(day: date, value: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * (day - start).days / span
        y = pad + (height - 2 * pad) * (high - min(max(value, low), high)) / (high - low)
        return round(x, 1), round(y, 1)

    placed = [place(day, value) for day, value in series]
    first, last = series[0], series[-1]
    label = (
        f"Health {first[1]:.0f} on {first[0].isoformat()}, {last[1]:.0f} on {last[0].isoformat()}"
        f" ({len(series)} scores)"
    )
    return Sparkline(" ".join(f"{x},{y}" for x, y in placed), *placed[-1], label)


def epoch_seconds(day: date) -> int:
    """Midnight UTC of ``day`` in Unix seconds (uPlot's time axis)."""
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


def history_chart(
    points: list[tuple[date, float]], band_good: float | None, band_poor: float | None
) -> dict[str, object]:
    """The score history with the profile's band thresholds as flat lines."""
    xs = [epoch_seconds(day) for day, _ in points]
    series: dict[str, object] = {"x": xs, "health": [round(v, 2) for _, v in points]}
    if band_good is not None:
        series["good from"] = [band_good] * len(xs)
    if band_poor is not None:
        series["poor below"] = [band_poor] * len(xs)
    return {"kind": "history", "time": True, "series": series}


def survival_chart(
    curve: list[tuple[int, float]], days_to_renewal: float | None
) -> dict[str, object]:
    """Survival over the next year (starting at 1 today), with the renewal day marked."""
    days = [0] + [d for d, _ in curve]
    alive = [1.0] + [round(s, 4) for _, s in curve]
    chart: dict[str, object] = {
        "kind": "survival",
        "time": False,
        "series": {"x": days, "still a customer": alive},
    }
    if days_to_renewal is not None and 0 <= days_to_renewal <= max(days):
        chart["marker"] = {"x": days_to_renewal, "label": "renewal"}
    return chart


def renewal_date(as_of: date, days_to_renewal: float | None) -> date | None:
    """The renewal day counted from the score's date."""
    if days_to_renewal is None:
        return None
    return as_of + timedelta(days=round(days_to_renewal))
