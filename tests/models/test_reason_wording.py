"""Breakdown entries word each value as the sentence rules do, whichever values repeat."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vitals.features.catalog import FeatureSpec
from vitals.models.explain import reason_columns
from vitals.models.measures import readable
from vitals.models.reasons import reason_sentence

SPECS = [
    FeatureSpec("logins_30d", "engagement", "Logins", "Logins.", "logins", 30, True,
                previous="logins_prev_30d", measure="Usage"),
    FeatureSpec("seats", "account", "Seats", "Seats.", "seats", measure="Usage"),
    FeatureSpec("adoption", "engagement", "Adoption", "Share.", "share", 30, measure="Usage"),
    FeatureSpec("plan", "account", "Plan", "Plan.", "", kind="categorical", measure="Plan"),
]  # fmt: skip
# few distinct values, so that rows share them; both zeros and NaN, which compare oddly, also
# as numpy's 32-bit floats
NUMBERS = st.sampled_from(
    [0.0, -0.0, math.nan, 1.0, 1, 2.5, 0.125, 1e-12, 443.99999999999994, np.float32(0.0),
     np.float32(-0.0), np.float32(2.5)]
)  # fmt: skip
CATEGORIES = st.sampled_from(["pro", "basic", None])


@st.composite
def explained_rows(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(1, 12))
    columns = [
        draw(st.lists(CATEGORIES if spec.kind == "categorical" else NUMBERS, min_size=n,
                      max_size=n))
        for spec in SPECS
    ]  # fmt: skip
    previous = draw(st.lists(NUMBERS, min_size=n, max_size=n))
    points = np.array(
        draw(st.lists(st.lists(st.sampled_from([-3.0, -0.04, 0.0, 0.5, 2.0]), min_size=4,
                               max_size=4), min_size=n, max_size=n))
    )  # fmt: skip
    return columns, previous, points


@settings(max_examples=150, deadline=None)
@given(explained_rows())
def test_each_breakdown_entry_is_worded_as_its_own_sentence(rows: tuple) -> None:
    columns, previous, points = rows
    values = [np.array(c, dtype=object) for c in columns]
    before = np.array(previous, dtype=object)

    def value_at(j: int, at: np.ndarray) -> np.ndarray:
        return values[j][at]

    def previous_at(j: int, at: np.ndarray) -> np.ndarray | None:
        return before[at] if SPECS[j].previous else None

    phi = np.hstack([points / 10, np.zeros((len(points), 1))])
    reasons = reason_columns(points, phi, 2, SPECS, value_at, previous_at)
    for row, breakdown in zip(reasons.rows, reasons.columns["breakdown"], strict=True):
        for entry in (e for e in breakdown if e["feature"] != "other"):
            j = next(i for i, s in enumerate(SPECS) if s.name == entry["feature"])
            now = values[j][row]
            then = before[row] if SPECS[j].previous else None
            expected = reason_sentence(SPECS[j], now, then, entry["health_points"])
            assert entry["sentence"] == expected
            assert _same(entry["value"], readable(now))
            assert _same(entry["previous_value"], readable(then))


def _same(a: object, b: object) -> bool:
    """Equal, with NaN equal to NaN and the sign of zero telling."""
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or (a != a and b != b))
    return a == b
