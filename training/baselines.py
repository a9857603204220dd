"""Baselines scored beside the Vitals model in every run: a rule-based health score and a
logistic regression (the third, one pooled LightGBM, is the pooled booster of
:mod:`vitals.training.boosters`).

Rule-based health score, as customer-success tools build it: a weighted sum of per-feature
percentiles, each percentile taken against the training window's distribution (flipped where
less is healthier; a missing value scores the neutral 0.5), times 100. Weights (a feature absent
from the data drops out and the rest are rescaled to sum to 1):

============= ============================== ======= ================
family        feature                        weight  healthier when
============= ============================== ======= ================
engagement    ``active_days_30d``            0.10    more
engagement    ``license_utilization_30d``    0.15    more
engagement    ``stickiness_30d``             0.05    more
engagement    ``days_since_last_activity``   0.05    less
usage         ``feature_breadth_30d``        0.10    more
usage         ``events_per_seat_30d``        0.05    more
usage         ``events_change_30d``          0.10    more
feedback      ``nps_avg_180d``               0.10    more
feedback      ``csat_survey_avg_90d``        0.05    more
support       ``tickets_opened_30d``         0.05    less
support       ``urgent_tickets_opened_30d``  0.05    less
support       ``open_tickets``               0.05    less
support       ``ticket_csat_avg_90d``        0.10    more
============= ============================== ======= ================

Engagement 35 %, usage 25 %, feedback 15 %, support 25 %. The score becomes a churn probability
by Platt scaling fitted on the calibration window, so its Brier score compares with the models'.

Logistic regression on the same features: numeric columns median-imputed (with missing-value
indicators), passed through a signed ``log1p`` (counts are heavy-tailed) and standardised;
categorical columns one-hot encoded (missing as its own level, unseen levels ignored). Its
margin is calibrated on the calibration window like every booster's
(:mod:`vitals.training.calibrate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from vitals.models.calibration import Calibrator
from vitals.training.calibrate import choose_calibrator
from vitals.training.data import labels
from vitals.training.splits import TimeSplit

#: (feature, weight, higher_is_healthier) of the rule-based score
RULE_WEIGHTS: tuple[tuple[str, float, bool], ...] = (
    ("active_days_30d", 0.10, True),
    ("license_utilization_30d", 0.15, True),
    ("stickiness_30d", 0.05, True),
    ("days_since_last_activity", 0.05, False),
    ("feature_breadth_30d", 0.10, True),
    ("events_per_seat_30d", 0.05, True),
    ("events_change_30d", 0.10, True),
    ("nps_avg_180d", 0.10, True),
    ("csat_survey_avg_90d", 0.05, True),
    ("tickets_opened_30d", 0.05, False),
    ("urgent_tickets_opened_30d", 0.05, False),
    ("open_tickets", 0.05, False),
    ("ticket_csat_avg_90d", 0.10, True),
)


@dataclass
class RuleScore:
    """The rule-based health score (0-100, higher = healthier), percentiles fitted on training."""

    weights: tuple[tuple[str, float, bool], ...] = RULE_WEIGHTS

    def fit(self, frame: pd.DataFrame) -> RuleScore:
        """Keep the training window's sorted values of every weighted feature present.

        Raises:
            ValueError: when no weighted feature is in the frame.
        """
        present = [(n, w, up) for n, w, up in self.weights if n in frame.columns]
        if not present:
            raise ValueError("none of the rule-based score's features is in the snapshots")
        total = sum(w for _, w, _ in present)
        self.used_ = [(n, w / total, up) for n, w, up in present]
        self.sorted_ = {
            n: np.sort(_values(frame, n)[~np.isnan(_values(frame, n))]) for n, _, _ in self.used_
        }
        return self

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Health score per row, 0-100."""
        total = np.zeros(len(frame))
        for name, weight, healthier_up in self.used_:
            known = self.sorted_[name]
            x = _values(frame, name)
            if known.size:
                below = np.searchsorted(known, x, side="left")
                upto = np.searchsorted(known, x, side="right")
                pct = (below + upto) / (2.0 * known.size)
            else:
                pct = np.full(len(frame), 0.5)
            pct = np.where(np.isnan(x), 0.5, pct if healthier_up else 1.0 - pct)
            total += weight * pct
        return 100.0 * total


def logistic_baseline(numeric: Sequence[str], categorical: Sequence[str], *, seed: int) -> Pipeline:
    """Unfitted logistic regression pipeline (impute, signed log1p, scale, one-hot)."""
    numbers = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        FunctionTransformer(_signed_log1p, feature_names_out="one-to-one"),
        StandardScaler(),
    )
    levels = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        OneHotEncoder(handle_unknown="ignore", min_frequency=20),
    )
    columns = ColumnTransformer(
        [("numeric", numbers, list(numeric)), ("categorical", levels, list(categorical))]
    )
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    return Pipeline([("columns", columns), ("model", model)])


def logistic_input(
    frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> pd.DataFrame:
    """The baseline's input: numeric features as float, categorical ones as object (None = NaN)."""
    data = {n: _values(frame, n) for n in numeric}
    data.update({n: frame[n].to_numpy(dtype=object, na_value=np.nan) for n in categorical})
    return pd.DataFrame(data, index=frame.index)


@dataclass(frozen=True)
class BaselineScores:
    """Test-window churn probabilities of the rule-based score and the logistic regression.

    Attributes:
        probabilities: per baseline (``rules``, ``logistic``), one probability per test row.
        facts: per baseline, how its probabilities were calibrated.
    """

    probabilities: dict[str, np.ndarray]
    facts: dict[str, dict[str, object]]


def score_baselines(
    split: TimeSplit, numeric: Sequence[str], categorical: Sequence[str], *, seed: int, folds: int
) -> BaselineScores:
    """Fit both baselines on the training window, calibrate them on the calibration window and
    score the test window.

    Args:
        split: the time split.
        numeric: numeric feature names.
        categorical: categorical feature names.
        seed: seed of the logistic regression and of the calibration folds.
        folds: folds used to choose the logistic regression's calibrator.
    """
    y_cal = labels(split.calibration)
    rules = RuleScore().fit(split.train)
    platt = Calibrator("sigmoid").fit(100.0 - rules.score(split.calibration), y_cal)
    logistic = logistic_baseline(numeric, categorical, seed=seed)
    logistic.fit(logistic_input(split.train, numeric, categorical), labels(split.train))
    margin = logistic.decision_function(logistic_input(split.calibration, numeric, categorical))
    choice = choose_calibrator(
        margin, y_cal, groups=split.calibration["account_id"].to_numpy(), folds=folds, seed=seed
    )
    test_margin = logistic.decision_function(logistic_input(split.test, numeric, categorical))
    rule_facts = {
        "method": "sigmoid",
        "rows": len(y_cal),
        "churners": int(y_cal.sum()),
        "features": [n for n, _, _ in rules.used_],
    }
    return BaselineScores(
        {
            "rules": platt.transform(100.0 - rules.score(split.test)),
            "logistic": choice.calibrator.transform(test_margin),
        },
        {"rules": {"calibration": rule_facts}, "logistic": {"calibration": choice.to_dict()}},
    )


def _values(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=np.float64, na_value=np.nan)


def _signed_log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))
