"""Calibrators that map a booster's raw margin (log-odds) to a churn probability.

A calibrator is stored as data, never pickled: isotonic keeps its fitted thresholds (the margin
knots ``x`` and probabilities ``y``, linearly interpolated in between and clipped outside, exactly
as scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` predicts); Platt scaling keeps two
coefficients, ``p = 1 / (1 + exp(-(a * margin + b)))``.

Both are fitted by the training stage on a later time window than the booster. The input is always
the margin (``booster.predict(X, raw_score=True)``), not the raw probability: the two carry the
same order, and the margin is what the explanations live in.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression

CalibrationMethod = Literal["isotonic", "sigmoid"]
_METHODS = ("isotonic", "sigmoid")


class Calibrator:
    """Monotone map from raw margin to calibrated probability (scikit-learn estimator contract).

    Args:
        method: ``"isotonic"`` (non-parametric; needs roughly a thousand samples or more) or
            ``"sigmoid"`` (Platt scaling; two coefficients, safer on small calibration sets).

    Attributes:
        x_: isotonic margin knots (increasing), only for ``method="isotonic"``.
        y_: isotonic probabilities at the knots (non-decreasing).
        a_: Platt slope, only for ``method="sigmoid"``.
        b_: Platt intercept.
    """

    def __init__(self, method: CalibrationMethod = "isotonic") -> None:
        self.method = method

    def fit(
        self, margin: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Calibrator:
        """Fit the map on held-out margins and 0/1 outcomes.

        Args:
            margin: raw booster margins (log-odds), one per calibration row.
            y: churn outcome per row, 0 or 1.
            sample_weight: optional weight per row.

        Returns:
            The fitted calibrator.

        Raises:
            ValueError: unknown method, mismatched lengths, non-finite margins or labels not 0/1.
        """
        if self.method not in _METHODS:
            raise ValueError(
                f"unknown calibration method {self.method!r}, expected one of {_METHODS}"
            )
        m = np.asarray(margin, dtype=np.float64).ravel()
        t = np.asarray(y, dtype=np.float64).ravel()
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).ravel()
        if m.shape != t.shape or (w is not None and w.shape != m.shape):
            raise ValueError("margin, y and sample_weight must have the same length")
        if m.size == 0 or not np.isfinite(m).all():
            raise ValueError("calibration margins must be finite and non-empty")
        if not np.isin(t, (0.0, 1.0)).all():
            raise ValueError("calibration labels must be 0 or 1")
        if self.method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(m, t, sample_weight=w)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        else:
            self.a_, self.b_ = _fit_platt(m, t, w)
        return self

    def transform(self, margin: ArrayLike) -> np.ndarray:
        """Calibrated probabilities for raw margins.

        Args:
            margin: raw booster margins (log-odds).

        Returns:
            Probabilities in [0, 1], same shape as ``margin``.
        """
        m = np.asarray(margin, dtype=np.float64)
        if self.method == "isotonic":
            self._check_fitted("x_")
            return np.interp(m, self.x_, self.y_)
        self._check_fitted("a_")
        return expit(self.a_ * m + self.b_)

    def to_dict(self) -> dict[str, object]:
        """The fitted calibrator as plain JSON-able data."""
        if self.method == "isotonic":
            self._check_fitted("x_")
            return {"method": "isotonic", "x": self.x_.tolist(), "y": self.y_.tolist()}
        self._check_fitted("a_")
        return {"method": "sigmoid", "a": float(self.a_), "b": float(self.b_)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Calibrator:
        """Rebuild a fitted calibrator written by :meth:`to_dict`.

        Raises:
            ValueError: unknown method, or isotonic knots that are not increasing.
        """
        method = data.get("method")
        if method == "isotonic":
            cal = cls("isotonic")
            cal.x_ = np.asarray(data["x"], dtype=np.float64)
            cal.y_ = np.asarray(data["y"], dtype=np.float64)
            if cal.x_.size == 0 or cal.x_.shape != cal.y_.shape or np.any(np.diff(cal.x_) <= 0):
                raise ValueError("isotonic calibrator needs increasing knots x and as many y")
            return cal
        if method == "sigmoid":
            cal = cls("sigmoid")
            cal.a_, cal.b_ = float(data["a"]), float(data["b"])  # type: ignore[arg-type]
            return cal
        raise ValueError(f"unknown calibration method {method!r}, expected one of {_METHODS}")

    def _check_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise NotFittedError("this Calibrator is not fitted yet: call fit or from_dict first")


def _fit_platt(margin: np.ndarray, y: np.ndarray, weight: np.ndarray | None) -> tuple[float, float]:
    """Platt scaling with his smoothed targets, as scikit-learn's sigmoid calibration does."""
    w = np.ones_like(margin) if weight is None else weight
    n_pos = float(w[y == 1].sum())
    n_neg = float(w[y == 0].sum())
    target = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = params[0] * margin + params[1]
        p = expit(z)
        # log(1 + exp(z)) - target * z is the log-loss, written to stay finite for large |z|
        value = np.sum(w * (np.logaddexp(0.0, z) - target * z))
        residual = w * (p - target)
        return float(value), np.array([np.dot(residual, margin), residual.sum()])

    start = np.array([0.0, np.log((n_pos + 1.0) / (n_neg + 1.0))])
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])
