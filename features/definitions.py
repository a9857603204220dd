"""Declaring features once: each feature is its catalog entry next to its SQL expression.

Computation happens in three layers (see ``vitals.features.queries``):

1. daily roll-ups of the raw tables (one row per account and day);
2. one range join of those roll-ups with the snapshot dates, computing every window at once
   with conditional sums (``*_7d``, ``*_prev_7d``, ``*_30d``, ... columns, named below as
   *window columns*);
3. the final select, where each feature here is one expression over window columns.

Expressions use DuckDB's SQL dialect restricted to what Spark SQL shares (sqlglot transpiles
them); every date is an integer day number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vitals.features.catalog import FeatureSpec

WINDOWS = (7, 30, 90)
ONBOARDING_DAYS = 90
RECENCY_CAP_DAYS = 181  # "no activity within the 180-day look-back"


@dataclass(frozen=True)
class Feature:
    """A catalog entry and the SQL expression that computes it in the final select."""

    spec: FeatureSpec
    sql: str
    table: str | None = None  # optional contract table the feature needs (None: always there)


def ratio(numerator: str, denominator: str) -> str:
    return f"CAST({numerator} AS DOUBLE) / NULLIF({denominator}, 0)"


def relative_change(current: str, previous: str) -> str:
    """(current - previous) / (current + previous): in [-1, 1], 0 when both are 0."""
    return (
        f"CASE WHEN ({current}) + ({previous}) = 0 THEN 0.0 ELSE "
        f"CAST(({current}) - ({previous}) AS DOUBLE) / (({current}) + ({previous})) END"
    )


def slug(text: str) -> str:
    """A lower-case identifier made from a product-feature name."""
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return cleaned or "unnamed"


# units of quantities that cannot be negative: their features declare a minimum of 0
NON_NEGATIVE_UNITS = frozenset(
    {"users", "days", "logins", "events", "sessions", "minutes", "features", "tickets", "seats",
     "ratio", "share", "events/user", "events/seat", "responses", "lines", "hours", "months",
     "flag", "discount", "stickiness"}
)  # fmt: skip


def spec(name: str, family: str, label: str, description: str, unit: str, **kw) -> FeatureSpec:
    """A catalog entry; counts, durations and ratios of them get ``minimum=0``."""
    kw.setdefault("minimum", 0.0 if unit in NON_NEGATIVE_UNITS else None)
    return FeatureSpec(name, family, label, description, unit, **kw)  # type: ignore[arg-type]


def windowed(
    name: str,
    family: str,
    label: str,
    description: str,
    unit: str,
    better: bool | None,
    sql: str,
    windows: tuple[int, ...] = WINDOWS,
    with_previous: tuple[int, ...] = (7, 30),
    table: str | None = None,
) -> list[Feature]:
    """One feature per window (and its previous-window twin), from a ``{w}``/``{p}`` template."""
    features = []
    for w in windows:
        prev_name = f"{name}_prev_{w}d" if w in with_previous else None
        features.append(
            Feature(
                spec(
                    f"{name}_{w}d",
                    family,
                    label,
                    description.format(w=w),
                    unit,
                    window_days=w,
                    higher_is_better=better,
                    previous=prev_name,
                ),
                sql.format(w=f"{w}d"),
                table,
            )
        )
        if prev_name:
            features.append(
                Feature(
                    spec(
                        prev_name,
                        family,
                        f"{label} (previous {w} days)",
                        description.format(w=w) + f", in the {w} days before that",
                        unit,
                        window_days=w,
                        higher_is_better=better,
                        previous_window=True,
                    ),
                    sql.format(w=f"prev_{w}d"),
                    table,
                )
            )
    return features
