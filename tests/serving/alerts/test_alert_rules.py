"""Alert rules on small generated frames: each kind fires when it should and only then."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from alertkit import band_of
from pydantic import ValidationError

from vitals.config.alerts import (
    AlertSettings,
    BandDropRule,
    ParentRevenueRule,
    RiskAboveRule,
    ScoreDropRule,
)
from vitals.config.settings import Settings
from vitals.serving.alerts.rules import evaluate_accounts, evaluate_parents

D0 = date(2026, 3, 1)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def history(*rows: tuple[str, int, float, float | None]) -> pd.DataFrame:
    """(account, day number, health score, risk within 90 days) rows."""
    return pd.DataFrame(
        [
            {
                "account_id": a,
                "as_of": day(n),
                "model_version": "v",
                "health_score": s,
                "band": band_of(s),
                "risk_90d": r,
            }
            for a, n, s, r in rows
        ]
    )


def fired(rule: object, frame: pd.DataFrame, at: int) -> list[str]:
    return [h.subject_id for h in evaluate_accounts([rule], frame, day(at))]  # type: ignore[list-item]


def test_band_drop_fires_on_a_fall_only() -> None:
    frame = history(
        ("fell", 0, 80, None), ("fell", 7, 30, None),
        ("to_average", 0, 80, None), ("to_average", 7, 55, None),
        ("same", 0, 50, None), ("same", 7, 45, None),
        ("rose", 0, 30, None), ("rose", 7, 80, None),
        ("new", 7, 10, None),
        ("not_scored_now", 0, 80, None),
    )  # fmt: skip
    assert fired(BandDropRule(name="b", kind="band_drop"), frame, 7) == ["fell", "to_average"]
    assert fired(BandDropRule(name="b", kind="band_drop", to="poor"), frame, 7) == ["fell"]
    (hit,) = evaluate_accounts([BandDropRule(name="b", kind="band_drop", to="poor")], frame, day(7))
    assert hit.reference_date == day(0) and hit.model_version == "v"
    assert hit.before == {"as_of": day(0).isoformat(), "band": "good", "health_score": 80.0}
    assert hit.after == {"as_of": day(7).isoformat(), "band": "poor", "health_score": 30.0}
    assert hit.message == "fell: band fell from good to poor (health 80.0 -> 30.0)"


def test_band_drop_compares_with_the_previous_scored_date_only() -> None:
    frame = history(("a", 0, 80, None), ("a", 7, 30, None), ("a", 14, 30, None))
    rule = BandDropRule(name="b", kind="band_drop")
    assert fired(rule, frame, 7) == ["a"]
    assert fired(rule, frame, 14) == []  # still poor: the fall was reported on day 7


def test_score_drop_fires_once_per_fall_within_the_window() -> None:
    rule = ScoreDropRule(name="s", kind="score_drop", points=10, days=30)
    frame = history(
        ("a", 0, 80, None), ("a", 10, 75, None), ("a", 20, 69, None), ("a", 25, 60, None),
        ("slow", 0, 80, None), ("slow", 25, 74, None), ("slow", 50, 68, None),
    )  # fmt: skip
    assert fired(rule, frame, 10) == []  # 5 points
    assert fired(rule, frame, 20) == ["a"]  # 11 points below the peak of day 0
    assert fired(rule, frame, 25) == []  # the same fall, going on
    assert fired(rule, frame, 50) == []  # "slow" lost 12 points, but over 50 days
    (hit,) = evaluate_accounts([rule], frame, day(20))
    assert hit.reference_date == day(0) and hit.before["health_score"] == 80.0
    assert "fell 11.0 points within 30 days" in hit.message


def test_score_drop_window_includes_its_first_day() -> None:
    rule = ScoreDropRule(name="s", kind="score_drop", points=10, days=7)
    assert fired(rule, history(("a", 0, 60, None), ("a", 7, 50, None)), 7) == ["a"]  # a week ago
    assert fired(rule, history(("a", 0, 60, None), ("a", 8, 50, None)), 8) == []
    assert fired(rule, history(("a", 1, 60, None), ("a", 8, 50.5, None)), 8) == []  # 9.5 points


def oracle_drop(days: list[int], scores: list[float], i: int, window: int) -> float:
    """How far score ``i`` lies below the highest score of the ``window`` days before it."""
    earlier = [s for d, s in zip(days, scores, strict=True) if days[i] - window <= d < days[i]]
    return max(earlier) - scores[i] if earlier else -np.inf


def test_score_drop_agrees_with_a_plain_oracle() -> None:
    rule = ScoreDropRule(name="s", kind="score_drop", points=8, days=20)
    rng = np.random.default_rng(11)
    checked = 0
    for trial in range(30):
        days = sorted(rng.choice(60, size=rng.integers(2, 12), replace=False).tolist())
        scores = np.clip(70 + rng.normal(0, 8, size=len(days)).cumsum(), 0, 100).tolist()
        frame = history(*[(f"a{trial}", d, s, None) for d, s in zip(days, scores, strict=True)])
        for i in range(1, len(days)):
            now, then = (oracle_drop(days, scores, j, 20) >= 8 for j in (i, i - 1))
            expected = now and not then
            assert bool(fired(rule, frame, days[i])) == expected, (trial, days, scores, i)
            checked += expected
    assert checked >= 3  # the seed gives falls to find


def test_risk_above_fires_when_the_threshold_is_crossed() -> None:
    rule = RiskAboveRule(name="r", kind="risk_above", days=90, threshold=0.3)
    frame = history(
        ("crossed", 0, 60, 0.1), ("crossed", 7, 60, 0.3),
        ("stayed", 0, 60, 0.5), ("stayed", 7, 60, 0.6),
        ("below", 0, 60, 0.1), ("below", 7, 60, 0.29),
        ("was_unknown", 0, 60, None), ("was_unknown", 7, 60, 0.4),
        ("new", 7, 60, 0.9),
        ("unknown_now", 0, 60, 0.1), ("unknown_now", 7, 60, None),
    )  # fmt: skip
    assert fired(rule, frame, 7) == ["crossed", "new", "was_unknown"]
    hit = evaluate_accounts([rule], frame, day(7))[1]
    assert hit.reference_date is None and set(hit.before.values()) == {None}
    assert hit.message == (
        "new: risk of churn within 90 days reached 90%, threshold 30% (no earlier risk)"
    )


def test_parent_revenue_at_risk_rising_above_the_amount() -> None:
    rule = ParentRevenueRule(name="p", kind="parent_revenue_at_risk", amount=1000)
    rows = [
        ("rose", 0, 900.0, "contract_value"), ("rose", 7, 1500.0, "contract_value"),
        ("stayed", 0, 2000.0, "contract_value"), ("stayed", 7, 2500.0, "contract_value"),
        ("at", 0, 10.0, "contract_value"), ("at", 7, 1000.0, "contract_value"),
        ("other_weighting", 0, 0.0, "count"), ("other_weighting", 7, 5000.0, "count"),
        ("unknown", 0, 0.0, "contract_value"), ("unknown", 7, None, "contract_value"),
        ("new", 7, 1001.0, "contract_value"),
    ]  # fmt: skip
    frame = pd.DataFrame(
        [
            {
                "parent_id": p,
                "as_of": day(n),
                "model_version": "v",
                "weighting": w,
                "revenue_at_risk": r,
                "health": 50.0,
            }
            for p, n, r, w in rows
        ]
    )
    hits = evaluate_parents([rule], frame, day(7))
    assert [h.subject_id for h in hits] == ["new", "rose"]
    assert all(h.subject_kind == "parent" for h in hits)
    assert hits[1].before["revenue_at_risk"] == 900.0 and hits[1].after["revenue_at_risk"] == 1500.0
    count = rule.model_copy(update={"weighting": "count"})
    assert [h.subject_id for h in evaluate_parents([count], frame, day(7))] == ["other_weighting"]


def test_dedupe_keys_name_the_rule_subject_and_date() -> None:
    frame = history(("a", 0, 80, 0.5), ("a", 7, 30, 0.5), ("b", 0, 80, 0.5), ("b", 7, 30, 0.5))
    rules = [BandDropRule(name="x", kind="band_drop"), BandDropRule(name="y", kind="band_drop")]
    keys = [h.dedupe_key for h in evaluate_accounts(rules, frame, day(7))]
    again = [h.dedupe_key for h in evaluate_accounts(rules, frame.iloc[::-1], day(7))]
    assert keys == again and len(set(keys)) == 4


def test_rules_and_webhooks_are_read_from_vitals_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "vitals.toml"
    config.write_text(
        """
[[alerts.rules]]
name = "fell-to-poor"
kind = "band_drop"
to = "poor"
severity = "critical"

[[alerts.rules]]
name = "risk-90"
kind = "risk_above"
days = 90
threshold = 0.4

[[alerts.rules]]
name = "parent-revenue"
kind = "parent_revenue_at_risk"
amount = 100000

[[alerts.webhooks]]
url = "https://hooks.example.com/vitals"
secret = "0123456789abcdef"
rules = ["fell-to-poor"]
"""
    )
    monkeypatch.setenv("VITALS_CONFIG", str(config))
    alerts = Settings().alerts
    assert [type(r) for r in alerts.rules] == [BandDropRule, RiskAboveRule, ParentRevenueRule]
    assert alerts.rules[2].weighting == "contract_value"
    (hook,) = alerts.webhooks
    assert (hook.max_attempts, hook.backoff_seconds) == (5, 1.0)
    assert "0123456789abcdef" not in repr(hook)
    assert alerts.webhooks_for("fell-to-poor") == [hook] and alerts.webhooks_for("risk-90") == []
    monkeypatch.setenv("VITALS_CONFIG", str(tmp_path / "none.toml"))
    assert Settings().alerts == AlertSettings()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rules": [{"name": "a", "kind": "band_drop"}] * 2}, "unique, repeated: ['a']"),
        ({"rules": [{"name": "a", "kind": "risk_above", "days": 60, "threshold": 0.2}]}, "days"),
        ({"rules": [{"name": "a", "kind": "score_drop", "points": 5}]}, "days"),
        ({"rules": [{"name": "a", "kind": "moon_phase"}]}, "does not match any of the expected"),
        (
            {"webhooks": [{"url": "https://h.x/", "secret": "0123456789abcdef", "rules": ["z"]}]},
            "unknown alert rules: ['z']",
        ),
        ({"webhooks": [{"url": "ftp://h.example/x", "secret": "0123456789abcdef"}]}, "url"),
        ({"webhooks": [{"url": "https://h.example/x", "secret": "short"}]}, "secret"),
    ],
)
def test_bad_settings_say_what_is_wrong(settings: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        AlertSettings.model_validate(settings)
