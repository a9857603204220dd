"""The one per-profile scoring path: routed rows in, calibrated scores and contributions out.

:class:`Rows` holds the accounts to score as arrays, whether they came from a DataFrame
(:mod:`vitals.models.frames`) or from plain dicts (:mod:`vitals.models.records`);
:func:`score_rows` scores them profile by profile with the profile's booster (LightGBM's own
predict, or the model's TreeSHAP when contributions are wanted: one pass over the trees gives both
the margin and the contributions), calibrator and bands. ``HealthModel.predict``, ``explain``,
``explain_change`` and ``explain_records`` (the API's path) all score through here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import lightgbm as lgb
import numpy as np

from vitals.features.catalog import FeatureSpec
from vitals.models.calendar import CalendarColumns
from vitals.models.frames import FeatureLayout, encode
from vitals.models.profiles import FittedProfile
from vitals.models.reasons import split_score_change
from vitals.models.scoring import assign_bands
from vitals.models.survival import HORIZONS, risk_curve, risk_within

_SMALL_BATCH = 64  # rows up to which LightGBM predicts in the calling thread

# (feature name, row positions) -> previous-window values of that feature (None: unknown)
PreviousLookup = Callable[[str, np.ndarray], np.ndarray | None]


@dataclass(frozen=True)
class Rows:
    """Accounts to score, as arrays.

    Attributes:
        ids: account id per row.
        profiles: health profile per row.
        X: float matrix in booster order; categorical columns NaN (encoded per profile).
        raw: raw values of each categorical feature (object arrays, ``None`` where missing).
        previous: previous-window values of a feature's ``previous`` column, where known.
    """

    ids: np.ndarray
    profiles: np.ndarray
    X: np.ndarray
    raw: dict[str, np.ndarray]
    previous: PreviousLookup

    @cached_property
    def groups(self) -> list[tuple[str, np.ndarray]]:
        """Row positions per profile."""
        if len(self.ids) and (self.profiles == self.profiles[0]).all():
            return [(str(self.profiles[0]), np.arange(len(self.ids)))]
        names, inverse = np.unique(self.profiles.astype(str), return_inverse=True)
        return [(str(n), np.flatnonzero(inverse == i)) for i, n in enumerate(names)]

    def take(self, positions: np.ndarray, profiles: np.ndarray | None = None) -> Rows:
        """These rows reordered (``previous`` keeps reading the original positions), optionally
        routed to other ``profiles``."""
        original = positions

        def previous(column: str, at: np.ndarray) -> np.ndarray | None:
            return self.previous(column, original[at])

        return Rows(
            self.ids[positions],
            self.profiles[positions] if profiles is None else profiles,
            self.X[positions],
            {k: v[positions] for k, v in self.raw.items()},
            previous,
        )

    def value_getter(self, layout: FeatureLayout) -> Callable[[int, np.ndarray], np.ndarray]:
        """``(feature index, row positions) -> values``, as the reason tables read them."""
        return lambda j, at: self.values(layout, j, at)

    def previous_getter(
        self, layout: FeatureLayout, specs: Sequence[FeatureSpec]
    ) -> Callable[[int, np.ndarray], np.ndarray | None]:
        """``(feature index, row positions) -> values a window earlier`` (``None`` when the
        feature has no previous-window column); ``specs`` are in feature order."""

        def previous_at(j: int, at: np.ndarray) -> np.ndarray | None:
            column = specs[j].previous
            return None if column is None else self.previous(column, at)

        return previous_at

    def values(self, layout: FeatureLayout, j: int, at: np.ndarray) -> np.ndarray:
        """Values of feature ``j`` at rows ``at`` (raw strings for categorical features)."""
        name = layout.names[j]
        if name in self.raw:
            return self.raw[name][at]
        return self.X[at, j].astype(object)


@dataclass(frozen=True)
class RowScores:
    """Scores of :class:`Rows`, one entry per row.

    Attributes:
        margin: raw margin (log-odds) of the health booster.
        probability: its calibrated, calendar-free churn probability within the horizon.
        score: health score 0-100.
        band: good / average / poor.
        pooled: whether the profile uses the pooled booster.
        phi: TreeSHAP contributions with the base value last (only when asked for).
        baseline_score: the profile's score at the base value (only with ``phi``).
        slope: derivative of the score in the margin at the base value (only with ``phi``).
    """

    margin: np.ndarray
    probability: np.ndarray
    score: np.ndarray
    band: np.ndarray
    pooled: np.ndarray
    phi: np.ndarray | None = None
    baseline_score: np.ndarray | None = None
    slope: np.ndarray | None = None
    risk: Risk | None = None

    def points(self) -> np.ndarray:
        """Health points per feature: the contributions' share of ``score - baseline_score``.

        Raises:
            ValueError: scores computed without contributions.
        """
        if self.phi is None or self.baseline_score is None or self.slope is None:
            raise ValueError("scores were computed without contributions")
        return split_score_change(self.phi[:, :-1], self.score - self.baseline_score, self.slope)


@dataclass(frozen=True)
class Risk:
    """Risk that says when, per row.

    Attributes:
        churn_probability: calibrated risk within the model's horizon.
        curve: risk within each of :data:`~vitals.models.survival.HORIZONS` (NaN for a model
            saved before the curve).
        renewal: risk of being gone by the next renewal (NaN without a renewal date).
    """

    churn_probability: np.ndarray
    curve: np.ndarray
    renewal: np.ndarray


def score_rows(
    profiles: Mapping[str, FittedProfile],
    layout: FeatureLayout,
    rows: Rows,
    *,
    contributions: bool,
    horizon: int | None = None,
) -> RowScores:
    """Score every row with its profile's boosters, calibrators and bands.

    Args:
        profiles: the model's fitted profiles.
        layout: the model's features.
        rows: the accounts.
        contributions: also compute TreeSHAP contributions, baseline scores and slopes.
        horizon: the model's horizon, to compute the risk curve too (``None``: health only).

    Returns:
        The :class:`RowScores`.
    """
    n = len(rows.ids)
    margin, probability, score = np.empty(n), np.empty(n), np.empty(n)
    band = np.empty(n, dtype=object)
    pooled = np.empty(n, dtype=bool)
    phi = np.empty((n, len(layout.names) + 1)) if contributions else None
    baseline, slope = (np.empty(n), np.empty(n)) if contributions else (None, None)
    for name, at in rows.groups:
        profile = profiles[name]
        X = encoded(rows, layout, profile, at)
        if phi is not None and baseline is not None and slope is not None:
            margin[at], phi[at] = profile.shap.explain(X)
            baseline[at] = profile.score(phi[at, -1])
            slope[at] = profile.slope(phi[at, -1])
        else:
            margin[at] = _margin(profile.piece.booster, X)
        probability[at] = profile.piece.calibrator.transform(margin[at])
        score[at] = profile.score(margin[at])
        band[at] = assign_bands(score[at], profile.bands)
        pooled[at] = profile.piece.pooled
    risk = None if horizon is None else score_risk(profiles, layout, rows, probability, horizon)
    return RowScores(margin, probability, score, band, pooled, phi, baseline, slope, risk)


def score_risk(
    profiles: Mapping[str, FittedProfile],
    layout: FeatureLayout,
    rows: Rows,
    health_probability: np.ndarray,
    horizon: int,
) -> Risk:
    """The risk curve of every row (see :mod:`vitals.models.survival`).

    A profile without a risk piece (a model saved before the curve) keeps its one booster's
    probability as the horizon's risk, with no curve.
    """
    n = len(rows.ids)
    churn = np.array(health_probability, dtype=np.float64)
    curve = np.full((n, len(HORIZONS)), np.nan)
    calendar = CalendarColumns.of(layout.names)
    for name, at in rows.groups:
        profile = profiles[name]
        piece = profile.piece.risk
        if piece is None:
            continue
        X = encoded(rows, layout, profile, at)
        churn[at] = piece.calibrator.transform(_margin(piece.booster, X))
        steps = piece.steps()
        moved = np.vstack([calendar.advance(X, k * piece.step_days) for k in range(steps)])
        step_risk = piece.step_calibrator.transform(_margin(piece.step_booster, moved))
        curve[at] = risk_curve(churn[at], step_risk.reshape(steps, len(at)).T, piece, horizon)
    renewal = np.full(n, np.nan)
    if calendar.renewal is not None:
        # a line ending on its renewal day is a churn on that day, so the day itself counts
        renewal = risk_within(curve, rows.X[:, calendar.renewal] + 1.0)
    return Risk(churn, curve, renewal)


def change_contributions(
    profiles: Mapping[str, FittedProfile], layout: FeatureLayout, now: Rows, then: Rows
) -> np.ndarray:
    """Each row's margin change from ``then`` to ``now`` split over the features, in log-odds.

    Both rows of a pair are scored by the later row's profile (``then`` must be routed like
    ``now``); the split is the baseline Shapley one (:meth:`TreeShap.change`), so a feature with
    the same value at both dates gets exactly 0.

    Returns:
        Array of shape (rows, features); each row sums to the change of its margin.
    """
    phi = np.empty((len(now.ids), len(layout.names)))
    for name, at in now.groups:
        profile = profiles[name]
        later, earlier = encoded(now, layout, profile, at), encoded(then, layout, profile, at)
        phi[at] = profile.shap.change(later, earlier)
    return phi


def encoded(
    rows: Rows, layout: FeatureLayout, profile: FittedProfile, at: np.ndarray
) -> np.ndarray:
    """The booster matrix of rows ``at`` with categorical codes of ``profile``."""
    if not layout.categorical:
        return rows.X if len(at) == len(rows.ids) else rows.X[at]
    return encode(rows.X, rows.raw, layout, profile.codes, at)


def _margin(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    # a thread team costs more than it saves on a few rows, and waits for a free core when busy
    threads = {"num_threads": 1} if len(X) <= _SMALL_BATCH else {}
    return booster.predict(X, raw_score=True, **threads)
