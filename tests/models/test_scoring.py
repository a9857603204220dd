import numpy as np
import pytest

from vitals.models.scoring import Bands, assign_bands, default_bands, health_score


def test_score_strictly_decreasing_in_probability() -> None:
    p = np.linspace(0.0, 1.0, 1001)
    score = health_score(p)
    assert score[0] == 100.0 and score[-1] == 0.0
    assert np.all(np.diff(score) < 0)


@pytest.mark.parametrize(
    ("base_rate", "good", "poor"),
    [(0.1, 95.0, 80.0), (0.04, 98.0, 92.0), (0.6, 70.0, 20.0)],
)
def test_default_bands_follow_the_documented_rule(
    base_rate: float, good: float, poor: float
) -> None:
    bands = default_bands(base_rate)
    assert bands.good == pytest.approx(good)
    assert bands.poor == pytest.approx(poor)


def test_default_bands_reject_degenerate_rates() -> None:
    with pytest.raises(ValueError, match="base churn rate"):
        default_bands(0.0)


def test_band_boundaries() -> None:
    bands = assign_bands(np.array([95.0, 94.99, 80.0, 79.99]), Bands(good=95, poor=80))
    assert list(bands) == ["good", "average", "average", "poor"]
