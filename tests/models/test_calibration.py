import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import log_loss

from vitals.models.calibration import Calibrator


def _miscalibrated(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Margins three times too confident for the outcomes they predict."""
    rng = np.random.default_rng(seed)
    true_margin = rng.normal(-1.5, 1.0, n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-true_margin))).astype(int)
    return 3.0 * true_margin + 1.0, y


def test_isotonic_matches_scikit_learn_and_round_trips() -> None:
    margin, y = _miscalibrated()
    cal = Calibrator("isotonic").fit(margin, y)
    grid = np.linspace(margin.min() - 1, margin.max() + 1, 500)
    expected = (
        IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(margin, y).predict(grid)
    )
    np.testing.assert_allclose(cal.transform(grid), expected, atol=1e-12)
    again = Calibrator.from_dict(cal.to_dict())
    np.testing.assert_array_equal(again.transform(grid), cal.transform(grid))
    assert np.all(np.diff(cal.transform(grid)) >= 0)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_lowers_log_loss(method: str) -> None:
    margin, y = _miscalibrated(seed=1)
    test_margin, test_y = _miscalibrated(seed=2)
    cal = Calibrator(method).fit(margin, y)
    raw = 1.0 / (1.0 + np.exp(-test_margin))
    calibrated = np.clip(cal.transform(test_margin), 1e-6, 1 - 1e-6)
    assert log_loss(test_y, calibrated) < log_loss(test_y, raw) - 0.05


def test_sigmoid_recovers_platt_coefficients_and_round_trips() -> None:
    margin, y = _miscalibrated(n=20000, seed=3)
    cal = Calibrator("sigmoid").fit(margin, y)
    # margin = 3 m + 1 with y ~ sigmoid(m): the true map is sigmoid(margin / 3 - 1 / 3)
    assert cal.a_ == pytest.approx(1 / 3, abs=0.03)
    assert cal.b_ == pytest.approx(-1 / 3, abs=0.08)
    again = Calibrator.from_dict(cal.to_dict())
    np.testing.assert_array_equal(again.transform(margin), cal.transform(margin))


def test_bad_calibration_input() -> None:
    with pytest.raises(NotFittedError):
        Calibrator().transform(np.zeros(3))
    with pytest.raises(ValueError, match="0 or 1"):
        Calibrator().fit(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="unknown calibration method"):
        Calibrator("beta").fit(np.zeros(2), np.array([0, 1]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="increasing"):
        Calibrator.from_dict({"method": "isotonic", "x": [1.0, 0.0], "y": [0.1, 0.2]})
