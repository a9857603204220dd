"""Engagement, usage and trend features, from the events table."""

from __future__ import annotations

from vitals.features.definitions import (
    RECENCY_CAP_DAYS,
    WINDOWS,
    Feature,
    ratio,
    relative_change,
    spec,
    windowed,
)


def engagement_and_usage() -> list[Feature]:
    """Engagement, usage and trend features from the events table."""
    feats: list[Feature] = []
    feats += windowed(
        "active_users",
        "engagement",
        "Active users",
        "Distinct users with any event in the last {w} days",
        "users",
        True,
        "COALESCE(u.active_users_{w}, 0)",
    )
    feats += windowed(
        "active_days",
        "engagement",
        "Active days",
        "Days with any event in the last {w} days",
        "days",
        True,
        "COALESCE(e.active_days_{w}, 0)",
    )
    feats += windowed(
        "logins",
        "engagement",
        "Logins",
        "Login events in the last {w} days",
        "logins",
        True,
        "COALESCE(e.logins_{w}, 0)",
    )
    feats += windowed(
        "events",
        "usage",
        "Product events",
        "Events of any type in the last {w} days",
        "events",
        True,
        "COALESCE(e.events_{w}, 0)",
    )
    feats += windowed(
        "sessions",
        "engagement",
        "Sessions",
        "Session events in the last {w} days",
        "sessions",
        True,
        "COALESCE(e.sessions_{w}, 0)",
        windows=(30,),
    )
    feats += windowed(
        "session_minutes",
        "engagement",
        "Session minutes",
        "Total session duration in the last {w} days",
        "minutes",
        True,
        "COALESCE(e.session_minutes_{w}, 0)",
        windows=(30,),
    )
    feats += windowed(
        "avg_session_minutes",
        "engagement",
        "Average session length",
        "Mean session duration in the last {w} days",
        "minutes",
        True,
        ratio("e.session_minutes_{w}", "e.sessions_{w}"),
        windows=(30,),
    )
    feats += windowed(
        "stickiness",
        "engagement",
        "Stickiness (DAU/MAU)",
        "Average daily active users over the last {w} days / active users",
        "ratio",
        True,
        ratio("u.dau_sum_{w}", "30 * u.active_users_{w}"),
        windows=(30,),
    )
    feats += windowed(
        "events_per_active_user",
        "usage",
        "Events per active user",
        "Events per active user in the last {w} days",
        "events/user",
        True,
        ratio("e.events_{w}", "u.active_users_{w}"),
        windows=(30,),
    )
    feats += windowed(
        "events_per_seat",
        "usage",
        "Events per seat",
        "Events per licensed seat in the last {w} days",
        "events/seat",
        True,
        ratio("e.events_{w}", "s.seats"),
        windows=(30,),
    )
    feats += windowed(
        "license_utilization",
        "usage",
        "Active users per seat",
        "Active users in the last {w} days / licensed seats",
        "ratio",
        True,
        ratio("u.active_users_{w}", "s.seats"),
        windows=(30,),
    )
    feats += windowed(
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
    feats += windowed(
        "feature_breadth",
        "usage",
        "Feature adoption breadth",
        "Features used in the last {w} days / features available",
        "share",
        True,
        ratio("COALESCE(f.features_used_{w}, 0)", "fa.features_available"),
        windows=(30,),
    )
    feats += windowed(
        "value_sum",
        "usage",
        "Usage volume",
        "Sum of event values (null counts 1) in the last {w} days",
        "units",
        True,
        "COALESCE(e.value_sum_{w}, 0)",
        windows=(30,),
    )
    feats.append(
        Feature(
            spec(
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
                    spec(
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
                spec(
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
