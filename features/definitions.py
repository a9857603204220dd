"""The feature set, declared once: every feature's catalog entry next to its SQL expression.

Computation happens in three layers (see ``features.queries``):

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

from features.catalog import FeatureSpec

WINDOWS = (7, 30, 90)
ONBOARDING_DAYS = 90
RECENCY_CAP_DAYS = 181  # "no activity within the 180-day look-back"


@dataclass(frozen=True)
class Feature:
    """A catalog entry and the SQL expression that computes it in the final select."""

    spec: FeatureSpec
    sql: str
    table: str | None = None  # optional contract table the feature needs (None: always there)


def _ratio(numerator: str, denominator: str) -> str:
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


def _spec(name: str, family: str, label: str, description: str, unit: str, **kw) -> FeatureSpec:
    return FeatureSpec(name, family, label, description, unit, **kw)  # type: ignore[arg-type]


def _windowed(
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
                _spec(
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
                    _spec(
                        prev_name,
                        family,
                        f"{label} (previous {w} days)",
                        description.format(w=w) + f", in the {w} days before that",
                        unit,
                        window_days=w,
                        higher_is_better=better,
                    ),
                    sql.format(w=f"prev_{w}d"),
                    table,
                )
            )
    return features


def engagement_and_usage(key_features: list[str]) -> list[Feature]:
    """Engagement, usage and trend features from the events table."""
    feats: list[Feature] = []
    feats += _windowed(
        "active_users",
        "engagement",
        "Active users",
        "Distinct users with any event in the last {w} days",
        "users",
        True,
        "COALESCE(u.active_users_{w}, 0)",
    )
    feats += _windowed(
        "active_days",
        "engagement",
        "Active days",
        "Days with any event in the last {w} days",
        "days",
        True,
        "COALESCE(e.active_days_{w}, 0)",
    )
    feats += _windowed(
        "logins",
        "engagement",
        "Logins",
        "Login events in the last {w} days",
        "logins",
        True,
        "COALESCE(e.logins_{w}, 0)",
    )
    feats += _windowed(
        "events",
        "usage",
        "Product events",
        "Events of any type in the last {w} days",
        "events",
        True,
        "COALESCE(e.events_{w}, 0)",
    )
    feats += _windowed(
        "sessions",
        "engagement",
        "Sessions",
        "Session events in the last {w} days",
        "sessions",
        True,
        "COALESCE(e.sessions_{w}, 0)",
        windows=(30,),
    )
    feats += _windowed(
        "session_minutes",
        "engagement",
        "Session minutes",
        "Total session duration in the last {w} days",
        "minutes",
        True,
        "COALESCE(e.session_minutes_{w}, 0)",
        windows=(30,),
    )
    feats += _windowed(
        "avg_session_minutes",
        "engagement",
        "Average session length",
        "Mean session duration in the last {w} days",
        "minutes",
        True,
        _ratio("e.session_minutes_{w}", "e.sessions_{w}"),
        windows=(30,),
    )
    feats += _windowed(
        "stickiness",
        "engagement",
        "Stickiness (DAU/MAU)",
        "Average daily active users over the last {w} days / active users",
        "ratio",
        True,
        _ratio("u.dau_sum_{w}", "30 * u.active_users_{w}"),
        windows=(30,),
    )
    feats += _windowed(
        "events_per_active_user",
        "usage",
        "Events per active user",
        "Events per active user in the last {w} days",
        "events/user",
        True,
        _ratio("e.events_{w}", "u.active_users_{w}"),
        windows=(30,),
    )
    feats += _windowed(
        "events_per_seat",
        "usage",
        "Events per seat",
        "Events per licensed seat in the last {w} days",
        "events/seat",
        True,
        _ratio("e.events_{w}", "s.seats"),
        windows=(30,),
    )
    feats += _windowed(
        "license_utilization",
        "usage",
        "Active users per seat",
        "Active users in the last {w} days / licensed seats",
        "ratio",
        True,
        _ratio("u.active_users_{w}", "s.seats"),
        windows=(30,),
    )
    feats += _windowed(
        "features_used",
        "usage",
        "Product features used",
        "Distinct product features used in the last {w} days",
        "features",
        True,
        "COALESCE(f.features_used_{w}, 0)",
        windows=(30, 90),
        with_previous=(30,),
    )
    feats += _windowed(
        "feature_breadth",
        "usage",
        "Feature adoption breadth",
        "Features used in the last {w} days / features available",
        "share",
        True,
        _ratio("COALESCE(f.features_used_{w}, 0)", "fa.features_available"),
        windows=(30,),
    )
    feats += _windowed(
        "value_sum",
        "usage",
        "Usage volume",
        "Sum of event values (null counts 1) in the last {w} days",
        "units",
        True,
        "COALESCE(e.value_sum_{w}, 0)",
        windows=(30,),
    )
    for i, key in enumerate(key_features):
        feats += _windowed(
            f"feature_{slug(key)}_per_user",
            "usage",
            f"Use of {key} per active user",
            f"Events of product feature '{key}' per active user in the last {{w}} days",
            "events/user",
            True,
            _ratio(f"e.key_{i}_{{w}}", "u.active_users_{w}"),
            windows=(30,),
        )
    feats.append(
        Feature(
            _spec(
                "days_since_last_activity",
                "engagement",
                "Days since last activity",
                f"Days since the last event (capped at {RECENCY_CAP_DAYS})",
                "days",
                higher_is_better=False,
            ),
            f"COALESCE(a.as_of_day - e.last_active_day, {RECENCY_CAP_DAYS})",
        )
    )
    return feats + trend_features()


def trend_features() -> list[Feature]:
    """Change versus the previous window and 90-day slopes."""
    feats = []
    for metric, label, windows in (
        ("events", "Product events", WINDOWS),
        ("active_users", "Active users", (7, 30)),
        ("active_days", "Active days", (30,)),
        ("logins", "Logins", (30,)),
    ):
        source = "u" if metric == "active_users" else "e"
        for w in windows:
            feats.append(
                Feature(
                    _spec(
                        f"{metric}_change_{w}d",
                        "trend",
                        f"{label} trend ({w} days)",
                        f"Relative change of {metric} over the last {w} days vs the {w} before,"
                        " (now - before) / (now + before), in [-1, 1]",
                        "relative change",
                        window_days=w,
                        higher_is_better=True,
                    ),
                    relative_change(
                        f"COALESCE({source}.{metric}_{w}d, 0)",
                        f"COALESCE({source}.{metric}_prev_{w}d, 0)",
                    ),
                )
            )
    for metric, label, src in (("events", "Daily events", "e"), ("dau", "Daily active users", "u")):
        feats.append(
            Feature(
                _spec(
                    f"{metric}_slope_90d",
                    "trend",
                    f"{label} slope",
                    f"Least-squares slope of {label.lower()} over the last 90 days, per 30 days",
                    "per 30 days",
                    window_days=90,
                    higher_is_better=True,
                ),
                f"COALESCE(CAST(30 * (90 * {src}.{metric}_ty_90d - 4005 * {src}.{metric}_y_90d) "
                "AS DOUBLE)"
                " / 5466825, 0)",
            )
        )
    return feats


def feedback_features() -> list[Feature]:
    """NPS and CSAT survey features (need the surveys table)."""
    t = "surveys"
    return [
        Feature(
            _spec(
                "nps_latest",
                "feedback",
                "Latest NPS",
                "Most recent NPS answer (0-10)",
                "score",
                higher_is_better=True,
            ),
            "sv.nps_latest",
            t,
        ),
        Feature(
            _spec(
                "nps_avg_180d",
                "feedback",
                "Average NPS",
                "Mean NPS answer in the last 180 days",
                "score",
                window_days=180,
                higher_is_better=True,
            ),
            "sv.nps_avg_180d",
            t,
        ),
        Feature(
            _spec(
                "nps_detractor_share_180d",
                "feedback",
                "Share of NPS detractors",
                "Share of NPS answers 0-6 in the last 180 days",
                "share",
                window_days=180,
                higher_is_better=False,
            ),
            "sv.nps_detractor_share_180d",
            t,
        ),
        Feature(
            _spec(
                "nps_responses_180d",
                "feedback",
                "NPS responses",
                "NPS answers in the last 180 days",
                "responses",
                window_days=180,
            ),
            "COALESCE(sv.nps_responses_180d, 0)",
            t,
        ),
        Feature(
            _spec(
                "csat_survey_avg_90d",
                "feedback",
                "Survey CSAT",
                "Mean CSAT survey answer (1-5) in the last 90 days",
                "score",
                window_days=90,
                higher_is_better=True,
            ),
            "sv.csat_avg_90d",
            t,
        ),
    ]


def support_features() -> list[Feature]:
    """Support-ticket features (need the tickets table)."""
    t = "tickets"
    feats = _windowed(
        "tickets_opened",
        "support",
        "Tickets opened",
        "Support tickets opened in the last {w} days",
        "tickets",
        False,
        "COALESCE(t.tickets_opened_{w}, 0)",
        windows=(30, 90),
        with_previous=(30,),
        table=t,
    )
    feats += [
        Feature(
            _spec(
                "urgent_tickets_opened_30d",
                "support",
                "Urgent or high tickets opened",
                "Tickets of priority urgent or high opened in the last 30 days",
                "tickets",
                window_days=30,
                higher_is_better=False,
            ),
            "COALESCE(t.urgent_opened_30d, 0)",
            t,
        ),
        Feature(
            _spec(
                "open_tickets",
                "support",
                "Open tickets",
                "Tickets open at the as-of date",
                "tickets",
                higher_is_better=False,
            ),
            "COALESCE(t.open_tickets, 0)",
            t,
        ),
        Feature(
            _spec(
                "open_urgent_tickets",
                "support",
                "Open urgent or high tickets",
                "Tickets of priority urgent or high open at the as-of date",
                "tickets",
                higher_is_better=False,
            ),
            "COALESCE(t.open_urgent, 0)",
            t,
        ),
        Feature(
            _spec(
                "median_resolution_hours_90d",
                "support",
                "Median resolution time",
                "Median hours from open to close of tickets closed in the last 90 days",
                "hours",
                window_days=90,
                higher_is_better=False,
            ),
            "t.median_resolution_hours_90d",
            t,
        ),
        Feature(
            _spec(
                "ticket_csat_avg_90d",
                "support",
                "Ticket CSAT",
                "Mean CSAT (1-5) of tickets closed in the last 90 days",
                "score",
                window_days=90,
                higher_is_better=True,
            ),
            "t.ticket_csat_avg_90d",
            t,
        ),
    ]
    return feats


def financial_and_lifecycle() -> list[Feature]:
    """Subscription and lifecycle features (always available)."""
    return [
        Feature(
            _spec(
                "mrr",
                "financial",
                "MRR",
                "Monthly recurring revenue of running lines",
                "currency",
                window_days=90,
                higher_is_better=True,
                previous="mrr_90d_ago",
            ),
            "s.mrr",
        ),
        Feature(
            _spec(
                "mrr_90d_ago",
                "financial",
                "MRR 90 days earlier",
                "MRR of the lines running 90 days before the as-of date",
                "currency",
                higher_is_better=True,
            ),
            "COALESCE(s90.mrr, 0.0)",
        ),
        Feature(
            _spec(
                "mrr_change_90d",
                "financial",
                "MRR change",
                "Relative change of MRR over 90 days, (now - before) / (now + before)",
                "relative change",
                window_days=90,
                higher_is_better=True,
            ),
            relative_change("s.mrr", "COALESCE(s90.mrr, 0.0)"),
        ),
        Feature(
            _spec(
                "contract_value",
                "financial",
                "Contract value",
                "12 x MRR",
                "currency",
                higher_is_better=True,
            ),
            "12 * s.mrr",
        ),
        Feature(
            _spec(
                "seats",
                "financial",
                "Licensed seats",
                "Seats of running lines",
                "seats",
                window_days=90,
                higher_is_better=True,
                previous="seats_90d_ago",
            ),
            "s.seats",
        ),
        Feature(
            _spec(
                "seats_90d_ago",
                "financial",
                "Seats 90 days earlier",
                "Seats of the lines running 90 days before",
                "seats",
                higher_is_better=True,
            ),
            "s90.seats",
        ),
        Feature(
            _spec(
                "seats_change_90d",
                "financial",
                "Seat change",
                "Relative change of seats over 90 days",
                "relative change",
                window_days=90,
                higher_is_better=True,
            ),
            relative_change("COALESCE(s.seats, 0)", "COALESCE(s90.seats, 0)"),
        ),
        Feature(
            _spec(
                "discount",
                "financial",
                "Discount",
                "MRR-weighted discount of running lines",
                "share",
            ),
            "s.discount",
        ),
        Feature(
            _spec(
                "billing_period_months",
                "financial",
                "Billing period",
                "Longest billing period of running lines",
                "months",
            ),
            "s.billing_period_months",
        ),
        Feature(
            _spec(
                "days_to_renewal",
                "financial",
                "Days to renewal",
                "Days until the next renewal date of a running line (from start date and "
                "billing period)",
                "days",
            ),
            "s.days_to_renewal",
        ),
        Feature(
            _spec(
                "subscription_lines",
                "financial",
                "Subscription lines",
                "Number of running subscription lines",
                "lines",
            ),
            "s.lines",
        ),
        Feature(
            _spec(
                "tenure_days",
                "lifecycle",
                "Tenure",
                "Days since the account was created",
                "days",
                higher_is_better=True,
            ),
            "a.as_of_day - acc.created_day",
        ),
        Feature(
            _spec(
                "onboarding",
                "lifecycle",
                "Onboarding",
                f"1 during the first {ONBOARDING_DAYS} days as a customer",
                "flag",
            ),
            f"CASE WHEN a.as_of_day - acc.created_day < {ONBOARDING_DAYS} THEN 1 ELSE 0 END",
        ),
        Feature(
            _spec(
                "has_parent",
                "lifecycle",
                "Part of a hierarchy",
                "1 when the account has a parent account",
                "flag",
            ),
            "CASE WHEN acc.parent_id IS NULL THEN 0 ELSE 1 END",
        ),
    ]


def attribute_features(categorical: list[str], numeric: list[str]) -> list[Feature]:
    """Account attributes: the segment and every extra column of the accounts table."""
    feats = [
        Feature(
            _spec(
                "segment", "attribute", "Segment", "Account segment", "category", kind="categorical"
            ),
            "acc.segment",
        )
    ]
    for col in categorical:
        feats.append(
            Feature(
                _spec(
                    f"attr_{slug(col)}",
                    "attribute",
                    col.replace("_", " ").title(),
                    f"Account attribute '{col}'",
                    "category",
                    kind="categorical",
                ),
                f'CAST(acc."{col}" AS VARCHAR)',
            )
        )
    for col in numeric:
        feats.append(
            Feature(
                _spec(
                    f"attr_{slug(col)}",
                    "attribute",
                    col.replace("_", " ").title(),
                    f"Account attribute '{col}'",
                    "value",
                ),
                f'CAST(acc."{col}" AS DOUBLE)',
            )
        )
    return feats


def feature_set(
    tables: set[str], key_features: list[str], categorical: list[str], numeric: list[str]
) -> list[Feature]:
    """Every feature computable from the present ``tables``, in output order."""
    feats = engagement_and_usage(key_features) + financial_and_lifecycle()
    if "tickets" in tables:
        feats += support_features()
    if "surveys" in tables:
        feats += feedback_features()
    return feats + attribute_features(categorical, numeric)
