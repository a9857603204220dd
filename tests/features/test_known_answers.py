"""Known-answer tests: tiny hand-written data, features and labels computed by hand."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from handmade import account, event, line, write_tables

from vitals.features.build import build_features
from vitals.features.catalog import KeyEvent, Vocabulary
from vitals.features.loader import load_dataset

AS_OF = date(2024, 6, 1)


def snapshot(root, as_of=AS_OF, **kwargs) -> dict:
    """Build one snapshot date and return its rows keyed by account id."""
    result = build_features(load_dataset(root), [as_of], **kwargs)
    frame = result.to_pandas()
    return {row["account_id"]: row for row in frame.to_dict("records")}, result


@pytest.fixture
def usage_dir(tmp_path):
    events = [
        event("a", "2024-05-31 10:00", "login", "u1", None),
        event("a", "2024-05-30 09:00", "session", "u1", "reports", 30.0),
        event("a", "2024-05-20 12:00", "feature_use", "u2", "dashboards"),
        event("a", "2024-04-15 12:00", "feature_use", "u3", "reports"),
        event("a", "2024-06-01 00:00", "feature_use", "u1", "reports"),  # at as_of: unseen
        event("a", "2024-01-10 08:00", "export", "u4", "exports"),  # older than 90 days
    ]
    return write_tables(
        tmp_path / "usage",
        accounts=[account("a", plan="pro", employees=120)],
        subscriptions=[line("a", "2024-01-01", seats=4.0)],
        events=events,
    )


def test_engagement_and_usage_features(usage_dir):
    vocabulary = Vocabulary(
        event_types=("feature_use",),
        features=("reports",),
        key_events=(KeyEvent("Exports", event_types=("export",), higher_is_better=True),),
        other_event_types=True,
    )
    rows, result = snapshot(usage_dir, vocabulary=vocabulary)
    a = rows["a"]
    expected = {
        "active_users_7d": 1,
        "active_days_7d": 2,
        "logins_7d": 1,
        "events_7d": 2,
        "events_30d": 3,
        "active_users_30d": 2,
        "active_days_30d": 3,
        "events_prev_30d": 1,
        "active_users_prev_30d": 1,
        "events_90d": 4,
        "active_users_90d": 3,
        "days_since_last_activity": 1,
        "sessions_30d": 1,
        "session_minutes_30d": 30,
        "avg_session_minutes_30d": 30,
        "stickiness_30d": (3 / 30) / 2,
        "events_per_seat_30d": 0.75,
        "license_utilization_30d": 0.5,
        "features_used_30d": 2,
        "features_used_90d": 2,
        "feature_breadth_30d": 2 / 3,
        "events_change_30d": 0.5,
        "value_sum_30d": 32,
        "feature_reports_per_user_30d": 0.5,
        # the customer's own vocabulary: reports on 05-30 and 04-15, feature_use on 05-20
        "feature_reports_7d": 1,
        "feature_reports_30d": 1,
        "feature_reports_prev_30d": 1,
        "feature_reports_90d": 2,
        "feature_reports_per_seat_30d": 0.25,
        "feature_reports_change_30d": 0.0,
        "feature_reports_days_since": 2,
        "event_feature_use_30d": 1,
        "event_feature_use_90d": 2,
        "event_feature_use_per_user_90d": 2 / 3,
        "event_feature_use_change_30d": 0.0,
        "event_other_30d": 2,  # the login and the session
        "event_other_days_since": 1,
        "key_exports_90d": 0,  # the export is older than 90 days
        "key_exports_days_since": 143,
    }
    for name, value in expected.items():
        assert a[name] == pytest.approx(value), name
    assert a["attr_plan"] == "pro" and a["attr_employees"] == 120
    assert a["segment"] == "smb"
    assert "tickets_opened_30d" not in a and "nps_latest" not in a  # optional tables absent
    families = {spec.family for spec in result.catalog}
    assert {"support", "feedback"}.isdisjoint(families)


def test_trend_slope_of_a_steady_rise(tmp_path):
    # one event on each of the last 90 days, two on the second half: slope = known value
    events = []
    for k in range(90):
        day = date.fromordinal(AS_OF.toordinal() - 90 + k)
        events.append(event("a", f"{day} 12:00"))
        if k >= 45:
            events.append(event("a", f"{day} 13:00"))
    root = write_tables(
        tmp_path / "trend",
        accounts=[account("a")],
        subscriptions=[line("a", "2023-01-01")],
        events=events,
    )
    rows, _ = snapshot(root, vocabulary=Vocabulary())
    t = list(range(90))
    y = [1 + (k >= 45) for k in t]
    mean_t, mean_y = sum(t) / 90, sum(y) / 90
    slope = sum((a - mean_t) * (b - mean_y) for a, b in zip(t, y, strict=True)) / sum(
        (a - mean_t) ** 2 for a in t
    )
    assert rows["a"]["events_slope_90d"] == pytest.approx(30 * slope)
    assert rows["a"]["events_change_30d"] == pytest.approx((60 - 45) / (60 + 45))
    assert rows["a"]["events_change_90d"] == pytest.approx(1.0)  # nothing before 90 days


def test_financial_features_never_read_a_future_end_date(tmp_path):
    root = write_tables(
        tmp_path / "fin",
        accounts=[account("b", created_at="2023-06-15")],
        subscriptions=[
            line("b", "2023-06-15", "2024-09-01", mrr=1000.0, seats=50.0, discount=0.2, period=12),
            line("b", "2024-04-01", mrr=200.0, seats=10.0),
        ],
        events=[event("b", "2024-05-01")],
    )
    b = snapshot(root, vocabulary=Vocabulary())[0]["b"]
    expected = {
        "mrr": 1200,
        "contract_value": 14400,
        "seats": 60,
        "discount": 0.2,
        "billing_period_months": 12,
        "subscription_lines": 2,
        "days_to_renewal": 14,
        "mrr_90d_ago": 1000,
        "mrr_change_90d": 200 / 2200,
        "seats_90d_ago": 50,
        "tenure_days": 352,
        "onboarding": 0,
        "has_parent": 0,
    }
    for name, value in expected.items():
        assert b[name] == pytest.approx(value), name


def test_support_and_feedback_features(usage_dir):
    tickets = [
        {
            "account_id": "a",
            "ticket_id": "t1",
            "opened_at": "2024-05-10 00:00",
            "closed_at": "2024-05-11 00:00",
            "priority": "urgent",
            "csat": 2,
        },
        {
            "account_id": "a",
            "ticket_id": "t2",
            "opened_at": "2024-05-20 00:00",
            "closed_at": "2024-06-05 00:00",
            "priority": "high",
            "csat": 5,
        },
        {
            "account_id": "a",
            "ticket_id": "t3",
            "opened_at": "2024-03-01 00:00",
            "closed_at": "2024-03-03 00:00",
            "priority": "low",
            "csat": 4,
        },
        {
            "account_id": "a",
            "ticket_id": "t4",
            "opened_at": "2024-06-02 00:00",
            "closed_at": None,
            "priority": "urgent",
            "csat": None,
        },
    ]
    surveys = [
        {
            "account_id": "a",
            "responded_at": ts,
            "kind": kind,
            "score": score,
            "user_id": None,
            "comment": None,
        }
        for ts, kind, score in [
            ("2024-01-05 10:00", "nps", 9),
            ("2024-05-01 10:00", "nps", 4),
            ("2024-05-15 10:00", "nps", 6),
            ("2024-05-20 10:00", "csat", 3),
            ("2024-06-01 10:00", "nps", 10),
        ]
    ]
    write_tables(usage_dir, tickets=tickets, surveys=surveys)
    a = snapshot(usage_dir, vocabulary=Vocabulary())[0]["a"]
    expected = {
        "tickets_opened_30d": 2,
        "tickets_opened_90d": 2,
        "urgent_tickets_opened_30d": 2,
        "open_tickets": 1,
        "open_urgent_tickets": 1,
        "median_resolution_hours_90d": 36,
        "ticket_csat_avg_90d": 3,
        "nps_latest": 6,
        "nps_avg_180d": 19 / 3,
        "nps_detractor_share_180d": 2 / 3,
        "nps_responses_180d": 3,
        "csat_survey_avg_90d": 3,
    }
    for name, value in expected.items():
        assert a[name] == pytest.approx(value), name


@pytest.fixture
def label_dir(tmp_path):
    subs = [
        line("inside", "2024-01-01", "2024-04-10"),
        line("inside", "2024-05-10"),
        line("outside", "2024-01-01", "2024-04-10"),
        line("outside", "2024-05-11"),
        line("late", "2024-01-01", "2024-06-15"),
        line("gone", "2024-01-01", "2024-02-01"),
        line("new", "2024-04-01"),
        line("steady", "2024-01-01", "2025-05-20"),
    ]
    ids = ["inside", "outside", "late", "gone", "steady"]
    return write_tables(
        tmp_path / "labels",
        accounts=[account(i) for i in ids] + [account("new", created_at="2024-04-01")],
        subscriptions=subs,
        events=[event("steady", "2025-06-30 12:00")],  # the data end
    )


def test_labels_grace_gap_reactivation_and_who_gets_a_snapshot(label_dir):
    result = build_features(
        load_dataset(label_dir), [date(2024, 3, 1), date(2024, 6, 1)], vocabulary=Vocabulary()
    )
    frame = result.to_pandas().set_index(["account_id", "as_of"])
    march = frame.xs(date(2024, 3, 1), level="as_of")
    assert set(march.index) == {"inside", "outside", "late", "steady"}  # gone churned, new later
    assert march.loc["inside", "churned_within_horizon"] == 0  # 30-day gap: inside grace
    assert march.loc["outside", "churned_within_horizon"] == 1  # 31-day gap: a churn
    assert march.loc["outside", "churn_date"] == date(2024, 4, 10)
    assert march.loc["late", "churned_within_horizon"] == 0  # churns after the horizon
    assert march.loc["late", "churn_date"] == date(2024, 6, 15)
    june = frame.xs(date(2024, 6, 1), level="as_of")
    assert "outside" in june.index  # reactivated: a customer again
    assert june.loc["outside", "churned_within_horizon"] == 0
    assert "new" in june.index


def test_censored_labels_are_null_never_retained(label_dir):
    result = build_features(
        load_dataset(label_dir), [date(2025, 3, 1), date(2025, 4, 1)], vocabulary=Vocabulary()
    )
    frame = result.to_pandas()
    assert result.data_end == date(2025, 7, 1)
    steady = frame[frame["account_id"] == "steady"].set_index("as_of")
    # 2025-03-01 + 90 + 30 days <= 2025-07-01: observed; 2025-04-01: censored
    assert steady.loc[date(2025, 3, 1), "churned_within_horizon"] == 1  # ends 2025-05-20
    april = frame[frame["as_of"] == date(2025, 4, 1)]
    assert len(april) == 4 and april["churned_within_horizon"].isna().all()
    # the churn on 2025-05-20 is confirmed 30 days later, still inside the data
    assert steady.loc[date(2025, 4, 1), "churn_date"] == date(2025, 5, 20)
    still_running = frame[frame["account_id"] == "inside"]
    assert still_running["churn_date"].isna().all()


def test_sentiment_features_read_the_latest_rating_before_the_as_of_date(tmp_path):
    def rating(who: str, at: str, value: str) -> dict:
        return {"account_id": who, "recorded_at": at, "rating": value, "author": None, "note": None}

    root = write_tables(
        tmp_path / "sentiment",
        accounts=[account(a) for a in ("a", "b", "c")],
        subscriptions=[line(a, "2024-01-01") for a in ("a", "b", "c")],
        events=[event(a, "2024-05-20 10:00", "login", "u1", None) for a in ("a", "b", "c")],
        sentiment=[
            rating("a", "2024-01-15 09:00", "green"),  # the latest more than 90 days back
            rating("a", "2024-02-20 09:00", "yellow"),  # later, still more than 90 days back
            rating("a", "2024-05-10 09:00", "red"),  # the latest: 22 days before as_of
            rating("a", "2024-06-01 00:00", "green"),  # at as_of: unseen
            rating("b", "2024-05-31 08:00", "green"),  # nothing 90 days back: no change
            rating("b", "2024-05-31 08:00", "yellow"),  # same moment: the higher one counts
        ],
    )
    rows, _ = snapshot(root)
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["sentiment_latest"], a["sentiment_days_since"]) == (0.0, 22)
    assert a["sentiment_change_90d"] == 0.0 - 1.0  # red now, yellow on 2024-02-20
    assert (b["sentiment_latest"], b["sentiment_days_since"]) == (2.0, 1)
    assert pd.isna(b["sentiment_change_90d"])
    assert all(pd.isna(c[n]) for n in ("sentiment_latest", "sentiment_change_90d"))
