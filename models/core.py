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
from vitals.models.frames import FeatureLayout, encode
from vitals.models.profiles import FittedProfile
from vitals.models.reasons import FLAT_MARGIN, split_score_change
from vitals.models.scoring import assign_bands

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
        stages: the profiles each row passes through over the health span, with the share of the
            span in each (:meth:`~vitals.models.profiles.ProfileRouter.stages`); the first
            stage's profiles are ``profiles``. Empty means today's profile for the whole span.
    """

    ids: np.ndarray
    profiles: np.ndarray
    X: np.ndarray
    raw: dict[str, np.ndarray]
    previous: PreviousLookup
    stages: Sequence[tuple[np.ndarray, np.ndarray]] = ()

    @cached_property
    def timeline(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The stages, today's profile throughout when none were given."""
        return list(self.stages) or [(self.profiles, np.ones(len(self.ids)))]

    @cached_property
    def groups(self) -> list[tuple[str, np.ndarray]]:
        """Row positions per profile."""
        return profile_groups(self.profiles)

    def take(self, positions: np.ndarray, routed_like: Rows | None = None) -> Rows:
        """These rows reordered (``previous`` keeps reading the original positions), optionally
        routed like ``routed_like`` (its profiles and stages, row for row)."""
        original = positions

        def previous(column: str, at: np.ndarray) -> np.ndarray | None:
            return self.previous(column, original[at])

        if routed_like is None:
            profiles = self.profiles[positions]
            stages = [(p[positions], share[positions]) for p, share in self.stages]
        else:
            profiles, stages = routed_like.profiles, list(routed_like.stages)
        return Rows(
            self.ids[positions],
            profiles,
            self.X[positions],
            {k: v[positions] for k, v in self.raw.items()},
            previous,
            stages,
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

    Health is ``100 * exp(L)`` with ``L = sum over stages of share x log_survival`` of the stage
    profile's health booster (:meth:`~vitals.models.profiles.FittedProfile.log_survival`).

    Attributes:
        margin: raw margin (log-odds) of today's profile's health booster.
        probability: its calibrated, calendar-free churn probability within the horizon.
        score: health score 0-100.
        band: good / average / poor (today's profile's bands).
        pooled: whether today's profile uses the pooled booster.
        phi: today's profile's TreeSHAP contributions with the base value last (only when asked
            for).
        baseline_score: the score with every stage's booster at its base value (only with
            ``phi``).
        span_phi: each feature's share of ``L - L(baseline)``, summed over the stages (only with
            ``phi``).
    """

    margin: np.ndarray
    probability: np.ndarray
    score: np.ndarray
    band: np.ndarray
    pooled: np.ndarray
    phi: np.ndarray | None = None
    baseline_score: np.ndarray | None = None
    span_phi: np.ndarray | None = None

    def points(self) -> np.ndarray:
        """Health points per feature: the contributions' share of ``score - baseline_score``.

        Raises:
            ValueError: scores computed without contributions.
        """
        if self.span_phi is None or self.baseline_score is None:
            raise ValueError("scores were computed without contributions")
        # dS/dL = S: the local slope where L barely moves
        gap = self.score - self.baseline_score
        return split_score_change(self.span_phi, gap, self.baseline_score)


def score_rows(
    profiles: Mapping[str, FittedProfile],
    layout: FeatureLayout,
    rows: Rows,
    *,
    contributions: bool,
) -> RowScores:
    """Score every row's health over its stages, with bands from today's profile.

    Args:
        profiles: the model's fitted profiles.
        layout: the model's features.
        rows: the accounts.
        contributions: also compute TreeSHAP contributions, baseline scores and their shares.

    Returns:
        The :class:`RowScores`.
    """
    n, width = len(rows.ids), len(layout.names)
    margin, phi = np.empty(n), np.empty((n, width + 1)) if contributions else None
    log_survival, base_log_survival = np.zeros(n), np.zeros(n)
    span_phi = np.zeros((n, width)) if contributions else None
    for k, (stage_profiles, share) in enumerate(rows.timeline):
        for name, at in profile_groups(stage_profiles, share > 0):
            profile = profiles[name]
            X = encoded(rows, layout, profile, at)
            weight = share[at]
            if not contributions:
                m = margins(profile.piece.booster, X)
                log_survival[at] += weight * profile.log_survival(m)
                if k == 0:
                    margin[at] = m
                continue
            m, stage_phi = profile.shap.explain(X)
            base = stage_phi[:, -1]
            now, then = profile.log_survival(m), profile.log_survival(base)
            log_survival[at] += weight * now
            base_log_survival[at] += weight * then
            moved = m - base
            flat = np.abs(moved) < FLAT_MARGIN
            ratio = np.where(
                flat, profile.log_survival_slope(base), (now - then) / np.where(flat, 1.0, moved)
            )
            span_phi[at] += (weight * ratio)[:, None] * stage_phi[:, :-1]  # type: ignore[index]
            if k == 0:
                margin[at], phi[at] = m, stage_phi  # type: ignore[index]
    score = 100.0 * np.exp(log_survival)
    probability, band = np.empty(n), np.empty(n, dtype=object)
    pooled = np.empty(n, dtype=bool)
    for name, at in rows.groups:
        profile = profiles[name]
        probability[at] = profile.piece.calibrator.transform(margin[at])
        band[at] = assign_bands(score[at], profile.bands)
        pooled[at] = profile.piece.pooled
    baseline = 100.0 * np.exp(base_log_survival) if contributions else None
    return RowScores(margin, probability, score, band, pooled, phi, baseline, span_phi)


def profile_groups(
    profiles: np.ndarray, keep: np.ndarray | None = None
) -> list[tuple[str, np.ndarray]]:
    """Row positions per profile name (only rows where ``keep`` holds, when given)."""
    rows = np.arange(len(profiles)) if keep is None else np.flatnonzero(keep)
    chosen = profiles[rows]
    if len(rows) and (chosen == chosen[0]).all():
        return [(str(chosen[0]), rows)]
    names, inverse = np.unique(chosen.astype(str), return_inverse=True)
    return [(str(n), rows[inverse == i]) for i, n in enumerate(names)]


def span_change(
    profiles: Mapping[str, FittedProfile], layout: FeatureLayout, now: Rows, then: Rows
) -> np.ndarray:
    """Each row's change of ``L`` (log of health / 100) from ``then`` to ``now`` per feature.

    Both rows of a pair are scored over the later row's stages (``then`` must be routed like
    ``now``). Per stage, the booster's margin change is split by baseline Shapley
    (:meth:`TreeShap.change`, so a feature with the same value at both dates gets exactly 0) and
    carried into ``L`` along the straight margin path.

    Returns:
        Array of shape (rows, features); each row sums to the change of ``L`` (up to the local
        slope where a margin barely moves).
    """
    out = np.zeros((len(now.ids), len(layout.names)))
    for stage_profiles, share in now.timeline:
        for name, at in profile_groups(stage_profiles, share > 0):
            profile = profiles[name]
            later, earlier = encoded(now, layout, profile, at), encoded(then, layout, profile, at)
            booster = profile.piece.booster
            m_now, m_then = margins(booster, later), margins(booster, earlier)
            moved = m_now - m_then
            flat = np.abs(moved) < FLAT_MARGIN
            gained = profile.log_survival(m_now) - profile.log_survival(m_then)
            middle = profile.log_survival_slope((m_now + m_then) / 2.0)
            ratio = np.where(flat, middle, gained / np.where(flat, 1.0, moved))
            change = profile.shap.change(later, earlier)
            out[at] += (share[at] * ratio)[:, None] * change
    return out


def encoded(
    rows: Rows, layout: FeatureLayout, profile: FittedProfile, at: np.ndarray
) -> np.ndarray:
    """The booster matrix of rows ``at`` with categorical codes of ``profile``."""
    if not layout.categorical:
        return rows.X if len(at) == len(rows.ids) else rows.X[at]
    return encode(rows.X, rows.raw, layout, profile.codes, at)


def margins(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    """Raw margins of a booster matrix."""
    # a thread team costs more than it saves on a few rows, and waits for a free core when busy
    threads = {"num_threads": 1} if len(X) <= _SMALL_BATCH else {}
    return booster.predict(X, raw_score=True, **threads)
