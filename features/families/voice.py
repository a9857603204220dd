"""The customer's voice: survey feedback, support tickets and the CSM's sentiment (optional
tables)."""

from __future__ import annotations

from vitals.features.definitions import (
    Feature,
    spec,
    windowed,
)


def feedback_features() -> list[Feature]:
    """NPS and CSAT survey features (need the surveys table)."""
    t = "surveys"
    return [
        Feature(
            spec(
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
            spec(
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
            spec(
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
            spec(
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
            spec(
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
    feats = windowed(
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
            spec(
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
            spec(
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
            spec(
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
            spec(
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
            spec(
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


def sentiment_features() -> list[Feature]:
    """The CSM's red / yellow / green ratings (need the sentiment table)."""
    t = "sentiment"
    return [
        Feature(
            spec(
                "sentiment_latest",
                "sentiment",
                "CSM sentiment",
                "The CSM's latest rating: red 0, yellow 1, green 2",
                "rating",
                minimum=0.0,
                higher_is_better=True,
            ),
            "st.sentiment_latest",
            t,
        ),
        Feature(
            spec(
                "sentiment_days_since",
                "sentiment",
                "Days since the CSM's rating",
                "Days since the CSM's latest rating",
                "days",
            ),
            "st.sentiment_days_since",
            t,
        ),
        Feature(
            spec(
                "sentiment_change_90d",
                "sentiment",
                "Change of CSM sentiment",
                "The latest rating minus the latest one given more than 90 days ago",
                "rating",
                window_days=90,
                higher_is_better=True,
            ),
            "st.sentiment_latest - st.sentiment_90d_ago",
            t,
        ),
    ]
