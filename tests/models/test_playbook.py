"""Suggested next steps: which reasons a playbook rule matches, and how actions are ordered."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from kit import fit_model, training_snapshots, write_sample

from vitals.config.playbooks import parse_playbook
from vitals.models.health_model import HealthModel
from vitals.models.playbook import Playbook, load_playbook

RULES = """
[[rules]]
id = "seats"
feature = "license_utilization_30d"
direction = "lowers"
action = "License utilization fell: offer an enablement session to the inactive seats"

[[rules]]
id = "users"
feature = ["active_users_30d", "active_users_7d"]
direction = "lowers"
action = "Active users fell: run a re-onboarding session"

[[rules]]
id = "quiet"
feature = "days_since_last_activity"
direction = "lowers"
action = "Gone quiet: call the main contact"

[[rules]]
id = "logins-up"
feature = "logins_30d"
direction = "raises"
action = "Logins rose: ask the champion what worked"

[[rules]]
id = "tickets"
feature = "tickets_opened_30d"
direction = "lowers"
action = "Tickets piled up: review them with support"

[[rules]]
id = "tickets-again"
feature = "open_tickets"
direction = "lowers"
action = "Tickets  piled up:   review them with support"

[[rules]]
id = "promoter"
feature = "nps_latest"
direction = "raises"
band = "good"
action = "A promoter: ask for a reference"

[[rules]]
id = "enterprise-users"
feature = "active_users_30d"
direction = "lowers"
profile = "enterprise"
band = ["average", "poor"]
action = "Enterprise usage fell: bring in the executive sponsor"
"""
FEATURES = [
    "license_utilization_30d", "active_users_30d", "active_users_7d", "days_since_last_activity",
    "logins_30d", "tickets_opened_30d", "open_tickets", "nps_latest",
]  # fmt: skip


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    rules, _ = parse_playbook(RULES, "test.toml", FEATURES)
    return Playbook(rules)


def reason(
    rank: int, measure: str, points: float, *parts: tuple[str, float], lead: str | None = None
) -> dict[str, Any]:
    """A reason in the stored shape (no ``direction``), its lead the costliest part."""
    breakdown = [{"feature": f, "label": f, "health_points": p, "sentence": ""} for f, p in parts]
    first = lead or max(parts, key=lambda part: abs(part[1]))[0]
    return {"rank": rank, "measure": measure, "feature": first, "label": first,
            "health_points": points, "sentence": "", "breakdown": breakdown}  # fmt: skip


USAGE = reason(
    1, "Product usage", -9.0, ("active_users_30d", -6.0), ("days_since_last_activity", -4.0),
    ("logins_30d", 1.0),
)  # fmt: skip
SEATS = reason(2, "Seats and licences", -5.0, ("license_utilization_30d", -5.0))
SUPPORT = reason(
    3, "Support experience", -3.0, ("tickets_opened_30d", -2.0), ("open_tickets", -1.0)
)
SURVEYS = reason(4, "Survey feedback", 2.5, ("nps_latest", 2.5))


def ids(actions: list[dict[str, Any]]) -> list[str | None]:
    return [a["id"] for a in actions]


def test_a_rule_matches_the_reason_feature_or_a_breakdown_feature(playbook: Playbook) -> None:
    (lead,) = playbook.suggest([SEATS])
    assert lead["id"] == "seats" and lead["health_points"] == -5.0
    assert lead["reasons"] == [
        {"rank": 2, "component": None, "measure": "Seats and licences",
         "feature": "license_utilization_30d", "health_points": -5.0,
         "matched_feature": "license_utilization_30d", "matched_points": -5.0},
    ]  # fmt: skip
    underneath = playbook.suggest([USAGE], limit=5)
    assert ids(underneath) == ["users", "quiet"]  # the feature that cost more first
    assert underneath[1]["reasons"][0]["feature"] == "active_users_30d"
    assert underneath[1]["reasons"][0]["matched_feature"] == "days_since_last_activity"
    lead_only = {k: v for k, v in SEATS.items() if k != "breakdown"}  # older stored reasons
    assert ids(playbook.suggest([lead_only])) == ["seats"]


def test_the_direction_of_the_reason_and_of_the_feature_must_agree(playbook: Playbook) -> None:
    # logins added health inside a measure that cost health: neither a raise nor a fall
    assert "logins-up" not in ids(playbook.suggest([USAGE], limit=10))
    rose = reason(1, "Product usage", 4.0, ("logins_30d", 3.0), ("active_users_30d", 1.0))
    assert ids(playbook.suggest([rose], limit=10)) == ["logins-up"]
    told = {**SEATS, "health_points": 5.0, "direction": "raises"}
    assert playbook.suggest([told]) == []
    assert playbook.suggest([{**SEATS, "health_points": 0.0}]) == []
    risk = {"rank": 1, "feature": "license_utilization_30d", "risk_points": 3.0}
    assert playbook.suggest([risk]) == []  # reasons for risk carry no health points


def test_profile_and_band_restrict_rules(playbook: Playbook) -> None:
    assert ids(playbook.suggest([SURVEYS], band="good")) == ["promoter"]
    assert playbook.suggest([SURVEYS], band="average") == []
    assert playbook.suggest([SURVEYS]) == []  # a band-bound rule needs the band
    only_users = reason(1, "Product usage", -6.0, ("active_users_30d", -6.0))
    enterprise = playbook.suggest([only_users], profile="enterprise", band="poor", limit=5)
    assert ids(enterprise) == ["enterprise-users", "users"]  # the more specific rule first
    assert ids(playbook.suggest([only_users], profile="enterprise", band="good")) == ["users"]
    assert ids(playbook.suggest([only_users], profile="smb", band="poor")) == ["users"]


def test_actions_are_deduplicated_ordered_by_cost_and_limited(playbook: Playbook) -> None:
    reasons = [SURVEYS, SUPPORT, SEATS, USAGE]
    actions = playbook.suggest(reasons, band="good", limit=10)
    assert ids(actions) == ["users", "quiet", "seats", "tickets", "promoter"]
    points = [a["health_points"] for a in actions]
    assert points == sorted(points) == [-9.0, -9.0, -5.0, -3.0, 2.5]
    (tickets,) = [a for a in actions if a["id"] == "tickets"]  # two rules, one action text
    assert [r["matched_feature"] for r in tickets["reasons"]] == ["tickets_opened_30d"]
    # three places: every reason's best action before a second action of the costliest one
    assert ids(playbook.suggest(reasons, band="good")) == ["users", "seats", "tickets"]
    assert ids(playbook.suggest(reasons, limit=1)) == ["users"]
    assert playbook.suggest(reasons, limit=0) == []
    with pytest.raises(ValueError, match="limit"):
        playbook.suggest(reasons, limit=-1)


def test_one_action_lists_every_reason_that_triggered_it() -> None:
    text = RULES + '\n[[rules]]\nfeature = "nps_latest"\ndirection = "lowers"\n'
    text += 'action = "Tickets piled up: review them with support"\n'
    rules, _ = parse_playbook(text, "test.toml", FEATURES)
    unhappy = reason(1, "Survey feedback", -7.0, ("nps_latest", -7.0))
    (action,) = Playbook(rules).suggest([SUPPORT, unhappy])
    assert action["id"] == "tickets" and action["health_points"] == -7.0
    assert [r["measure"] for r in action["reasons"]] == ["Survey feedback", "Support experience"]


def change_reason(component: str, points: float, *parts: tuple[str, float]) -> dict[str, Any]:
    """A reason for a change, as the API and alerts carry it."""
    breakdown = [{"feature": f, "label": f, "health_points": p, "value_then": 1.0, "value": 0.5,
                  "sentence": ""} for f, p in parts]  # fmt: skip
    lead = parts[0][0] if parts else None
    return {"rank": 1, "component": component, "measure": component, "feature": lead,
            "label": component, "value_then": 1.0, "value_now": 0.5, "health_points": points,
            "sentence": "", "breakdown": breakdown}  # fmt: skip


def test_reasons_for_a_change_and_alerts(playbook: Playbook) -> None:
    fell = change_reason("Seats and licences", -8.0, ("license_utilization_30d", -8.0))
    rose = change_reason("Product usage", 3.0, ("logins_30d", 3.0))
    profile = {"rank": 3, "component": "profile", "measure": None, "feature": None,
               "label": "Health profile", "health_points": -2.0, "sentence": ""}  # fmt: skip
    actions = playbook.suggest([rose, profile, fell], band="poor")
    assert ids(actions) == ["seats", "logins-up"]
    assert actions[0]["reasons"][0]["component"] == "Seats and licences"
    details = {
        "rule": {"name": "fell-to-poor", "kind": "band_drop"},
        "before": {"band": "good"},
        "after": {"band": "good", "health_score": 80.0},
        "reasons_kind": "change",
        "reasons": [change_reason("Survey feedback", 4.0, ("nps_latest", 4.0))],
    }
    assert ids(playbook.suggest_for_alert(details)) == ["promoter"]  # the band after
    assert playbook.suggest_for_alert(details, band="poor") == []
    parent = {"after": {"health": 40.0}, "reasons_kind": "current", "pulling_down": [],
              "reasons": [{"rank": 1, "measure": "Product usage", "label": "Product usage",
                           "health_points": -9.0}]}  # fmt: skip
    assert playbook.suggest_for_alert(parent) == []


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[HealthModel, pd.DataFrame]:
    """A small model fitted on simulated data, and its snapshots of the last four months."""
    snapshots = training_snapshots(write_sample(tmp_path_factory.mktemp("sample") / "data"))
    model = fit_model(snapshots, "playbook-test", rounds=15)
    frame = snapshots.to_pandas()
    return model, frame[frame["as_of"] >= sorted(frame["as_of"].unique())[-4]]


def test_the_default_playbook_has_actions_for_most_poor_accounts(
    sample: tuple[HealthModel, pd.DataFrame],
) -> None:
    model, frame = sample
    rows = frame.assign(account_id=frame["account_id"] + "@" + frame["as_of"].astype(str))
    explained = model.explain(rows.reset_index(drop=True), top_k=5)
    reasons = {
        account: group.drop(columns="account_id").to_dict("records")
        for account, group in explained.reasons.groupby("account_id")
    }
    playbook = load_playbook(features=model.feature_set.names)
    poor = helped = 0
    for account, profile, band in explained.scores[["account_id", "profile", "band"]].itertuples(
        index=False
    ):
        given = reasons.get(account, [])
        actions = playbook.suggest(given, profile=profile, band=band)
        assert len(actions) <= 3
        points = [a["health_points"] for a in actions]
        assert points == sorted(points)
        assert len({a["action"] for a in actions}) == len(actions)
        for action in actions:
            for trigger in action["reasons"]:
                assert (trigger["health_points"] < 0) == (action["direction"] == "lowers")
                assert any(r["rank"] == trigger["rank"] for r in given)
        if band == "poor":
            poor += 1
            helped += bool(actions) and actions[0]["direction"] == "lowers"
    assert poor >= 20, "the sample should hold enough poor accounts to measure"
    assert helped / poor >= 0.8, f"actions for {helped} of {poor} poor accounts"


def test_the_default_playbook_has_actions_for_most_falls(
    sample: tuple[HealthModel, pd.DataFrame],
) -> None:
    model, frame = sample
    dates = sorted(frame["as_of"].unique())
    then, now = frame[frame["as_of"] == dates[0]], frame[frame["as_of"] == dates[-1]]
    common = sorted(set(then["account_id"]) & set(now["account_id"]))
    change = model.explain_change(
        then[then["account_id"].isin(common)], now[now["account_id"].isin(common)], top_k=5
    )
    summary = change.summary.set_index("account_id")
    fell = summary.index[summary["score_change"] <= -5]
    playbook = load_playbook(features=model.feature_set.names)
    helped = 0
    for account, group in change.contributions.groupby("account_id"):
        if account in fell:
            band = summary.loc[account, "band_now"]
            actions = playbook.suggest(
                group.drop(columns="account_id").to_dict("records"), band=band
            )
            helped += any(a["direction"] == "lowers" for a in actions)
    assert len(fell) >= 10
    assert helped / len(fell) >= 0.8, f"actions for {helped} of {len(fell)} falls"
