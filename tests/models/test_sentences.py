"""Sentences read right: windows, previous windows, units and measures."""

from vitals.features.catalog import FeatureSpec
from vitals.models.measures import readable
from vitals.models.reasons import change_sentence, format_value, measure_sentence, reason_sentence

CURRENT = FeatureSpec("logins_30d", "engagement", "Logins", "Logins.", "logins", 30, True)
PREVIOUS = FeatureSpec(
    "logins_prev_30d", "engagement", "Logins (previous 30 days)", "Logins before.", "logins", 30,
    True, previous_window=True,
)  # fmt: skip
TREND = FeatureSpec("logins_change_30d", "trend", "Logins trend", "Trend.", "relative change", 30)


def test_a_previous_window_is_worded_as_the_one_before() -> None:
    assert reason_sentence(PREVIOUS, 12.0, None, -1.2) == (
        "Logins (previous 30 days) was 12 logins in the 30 days before the last 30 "
        "(-1 health point)"
    )
    assert reason_sentence(CURRENT, 12.0, None, 2.0) == (
        "Logins was 12 logins over the last 30 days (+2 health points)"
    )
    assert "before the last 30" not in reason_sentence(CURRENT, 3.0, 5.0, -0.4)


def test_values_carry_their_units_and_read_rounded() -> None:
    assert format_value(0.19000000000000003, "share") == "19%"
    assert format_value(-0.5, "relative change") == "-0.50"
    assert change_sentence(TREND, 1.0, -1.0, -0.07) == (
        "Logins trend fell from +1.00 to -1.00 (-0.07 health points)"
    )
    assert readable(0.19000000000000003) == 0.19
    assert readable(1234.5678) == 1234.57
    assert readable(float("nan")) is None and readable("pro") == "pro"


def test_measure_sentences_do_not_repeat_the_measure() -> None:
    assert measure_sentence("Product usage", "Logins fell (-2 health points)") == (
        "Product usage: Logins fell (-2 health points)"
    )
    assert measure_sentence("Export events", "Export events fell (-2 health points)") == (
        "Export events fell (-2 health points)"
    )


def test_built_in_features_get_the_measures_a_cs_team_knows() -> None:
    assert CURRENT.measure == "Product usage"
    assert FeatureSpec("seats", "financial", "Seats", ".", "seats").measure == "Seats and licences"
    assert FeatureSpec("mrr", "financial", "MRR", ".", "currency").measure == "Contract and billing"
    assert FeatureSpec("open_tickets", "support", "T", ".", "tickets").measure == (
        "Support experience"
    )
    assert FeatureSpec("features_used_30d", "usage", "F", ".", "features").measure == (
        "Breadth of adoption"
    )
    restored = FeatureSpec.from_dict({**CURRENT.to_dict(), "measure": ""})  # an older manifest
    assert restored.measure == "Product usage"


def test_risk_context_names_the_renewal_and_the_risk_by_horizon() -> None:
    from vitals.models.reasons import risk_sentences

    sentences = risk_sentences({90: 0.05, 30: 0.012}, 85.0, 0.04, 1200.0)
    assert sentences == [
        "Renewal in 85 days: 4% risk of being gone by then, 1,200 of contract value",
        "Risk of churning: 1% within 30 days, 5% within 90 days",
    ]
    assert risk_sentences({}, None, None, None) == []
    assert risk_sentences({}, 1.0, 0.5, None) == [
        "Renewal in 1 day: 50% risk of being gone by then"
    ]
