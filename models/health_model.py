"""The HealthModel: what training produces and serving loads.

Per health profile it holds a LightGBM booster, a calibrator and band thresholds (see
:class:`~models.profiles.ProfileModel`), plus the feature list and the feature catalog. It
predicts the calibrated churn probability, health score and band of each account, explains them
in health points (:mod:`models.reasons`), and rolls scores up an account hierarchy
(:mod:`models.rollup`). Nothing is trained here: ``fit`` assembles pieces the training stage fitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from features.catalog import FeatureSpec
from models import frames
from models.explain import (
    ChangeExplanation,
    Explanation,
    PreviousGetter,
    ValueGetter,
    change_table,
    reasons_table,
    top_k_indices,
)
from models.profiles import ProfileModel, ProfileRouter, fit_profile
from models.reasons import split_score_change
from models.rollup import RollUp, Weighting, roll_up
from models.scoring import assign_bands, health_score
from models.treeshap import TreeShap
from vitals.config.settings import ProfileConfig, Settings

_SMALL_BATCH = 64  # rows up to which LightGBM predicts in the calling thread


@dataclass(frozen=True)
class _Batch:
    frame: pd.DataFrame
    ids: np.ndarray
    profiles: np.ndarray
    X: np.ndarray
    raw: dict[str, np.ndarray]

    @cached_property
    def groups(self) -> list[tuple[str, np.ndarray]]:
        if len(self.ids) and (self.profiles == self.profiles[0]).all():
            return [(self.profiles[0], np.arange(len(self.ids)))]
        names, inverse = np.unique(self.profiles.astype(str), return_inverse=True)
        return [(str(n), np.flatnonzero(inverse == i)) for i, n in enumerate(names)]


class HealthModel:
    """Calibrated, explained customer health per account (scikit-learn estimator contract).

    Args:
        catalog: feature catalog entries; every booster feature needs one.
        routing: the settings' health profiles, in priority order.
        default_profile: profile of accounts no routing rule matches.
        band_weights: health of a band when rolling up (default good 1, average 0.5, poor 0).
        horizon_days: churn horizon of the probabilities, in days.

    Attributes:
        profiles_: fitted pieces by profile name.
        feature_names_: booster features, in order.
        catalog_: catalog entry by feature name.
        router_: routes accounts to profiles.
        metadata_: what training recorded (training window, model version, ...).
    """

    def __init__(
        self,
        catalog: Sequence[FeatureSpec],
        routing: Sequence[ProfileConfig] = (),
        default_profile: str = "default",
        band_weights: Mapping[str, float] | None = None,
        horizon_days: int = 90,
    ) -> None:
        self.catalog = catalog
        self.routing = routing
        self.default_profile = default_profile
        self.band_weights = band_weights
        self.horizon_days = horizon_days

    @classmethod
    def from_settings(cls, catalog: Sequence[FeatureSpec], settings: Settings) -> HealthModel:
        """An unfitted model with routing, bands and horizon taken from the settings."""
        return cls(
            catalog,
            settings.profiles,
            settings.default_profile,
            settings.band_weights,
            settings.horizon_days,
        )

    def fit(
        self, profiles: Sequence[ProfileModel], metadata: Mapping[str, object] | None = None
    ) -> HealthModel:
        """Assemble the model from per-profile pieces fitted by the training stage.

        Args:
            profiles: one piece per routable profile (every routing profile with a rule, and the
                default profile). Fallback profiles pass the pooled booster with ``pooled=True``.
            metadata: JSON-able facts to keep with the model (training window, version, ...).

        Returns:
            The fitted model.

        Raises:
            ValueError: a profile without a piece or a piece without a profile, boosters with
                different features, a feature missing from the catalog, categorical features that
                differ between booster and catalog, or no training categories.
        """
        catalog = {s.name: s for s in self.catalog}
        router = ProfileRouter(list(self.routing), self.default_profile)
        names = [p.name for p in profiles]
        expected = router.profile_names
        if len(set(names)) != len(names):
            raise ValueError(f"profile pieces must have distinct names, got {names}")
        if unknown := sorted(set(names) - set(expected)):
            raise ValueError(f"unknown profile(s) {unknown}: routing only knows {expected}")
        if absent := [n for n in expected if n not in names]:
            raise ValueError(f"profile(s) {absent} have no fitted model")
        explainers: dict[int, tuple[lgb.Booster, TreeShap]] = {}
        for piece in profiles:
            if id(piece.booster) not in explainers:
                # a fresh copy keeps only the trees predict uses (best iteration) and no data
                booster = lgb.Booster(model_str=piece.booster.model_to_string())
                explainers[id(piece.booster)] = (booster, TreeShap(booster))
        first = explainers[id(profiles[0].booster)][1]
        layout = frames.FeatureLayout(tuple(first.feature_names), tuple(first.categorical_features))
        settings_bands = {r.name: r.bands for r in self.routing}
        fitted = {
            p.name: fit_profile(
                p, *explainers[id(p.booster)], layout, catalog, settings_bands.get(p.name)
            )
            for p in profiles
        }
        self.profiles_ = fitted
        self.feature_names_ = list(layout.names)
        self.catalog_ = catalog
        self.router_ = router
        self.metadata_ = dict(metadata or {})
        self._layout = layout
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Calibrated churn probability, health score, band and profile per row.

        Args:
            frame: snapshot rows (see :mod:`models.frames` for the columns).

        Returns:
            Columns ``account_id, [as_of], profile, pooled, churn_probability, health_score,
            band``, indexed like ``frame``.

        Raises:
            InputError: bad input (the message names the column and account).
        """
        batch = self._batch(frame)
        return self._scores(batch, self._margins(batch))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP contributions in log-odds per feature plus ``base_value``, like ``frame``.

        Each row sums to the raw margin of the row's profile booster.
        """
        phi, _ = self._explained(self._batch(frame))
        return pd.DataFrame(phi, columns=[*self.feature_names_, "base_value"], index=frame.index)

    def explain(self, frame: pd.DataFrame, top_k: int = 5) -> Explanation:
        """Scores and the ``top_k`` reasons of each account, in health points and sentences.

        Args:
            frame: snapshot rows.
            top_k: reasons per account, largest ``|health points|`` first.

        Returns:
            An :class:`Explanation`.
        """
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        batch = self._batch(frame)
        phi, margin = self._explained(batch)
        base_score = np.empty(len(batch.ids))
        slope = np.empty(len(batch.ids))
        for name, rows in batch.groups:
            profile = self.profiles_[name]
            base = phi[rows, -1]
            base_score[rows] = profile.score(base)
            slope[rows] = profile.slope(base)
        scores = self._scores(batch, margin, baseline_score=base_score)
        points = split_score_change(
            phi[:, :-1], scores["health_score"].to_numpy() - base_score, slope
        )
        specs = [self.catalog_[n] for n in self.feature_names_]
        reasons = reasons_table(
            batch.ids,
            points,
            phi,
            top_k_indices(points, top_k),
            specs,
            self._value_getter(batch),
            self._previous_getter(batch),
        )
        return Explanation(scores, reasons)

    def explain_change(
        self, frame_then: pd.DataFrame, frame_now: pd.DataFrame, top_k: int | None = None
    ) -> ChangeExplanation:
        """Why each account's score moved between two snapshots, in health points.

        Args:
            frame_then: the earlier snapshot rows (one per account).
            frame_now: the later snapshot rows (the same accounts).
            top_k: keep this many features per account, the rest summed into one row.

        Returns:
            A :class:`ChangeExplanation`; contributions sum to each score change.

        Raises:
            InputError: bad input, repeated accounts, or accounts in only one of the frames.
        """
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be at least 1 or None, got {top_k}")
        now = self._batch(frame_now)
        then = self._batch(frame_then)
        position = frames.align_accounts(then.ids, now.ids)
        then = _Batch(
            then.frame,
            then.ids[position],
            then.profiles[position],
            then.X[position],
            {k: v[position] for k, v in then.raw.items()},
        )
        counter = _Batch(then.frame, then.ids, now.profiles, then.X, then.raw)
        phi_now, margin_now = self._explained(now)
        phi_then, margin_counter = self._explained(counter)
        scores_now = self._scores(now, margin_now)
        scores_then = self._scores(then, self._margins(then))
        score_counter = np.empty(len(now.ids))
        slope = np.empty(len(now.ids))
        for name, rows in now.groups:
            profile = self.profiles_[name]
            score_counter[rows] = profile.score(margin_counter[rows])
            slope[rows] = profile.slope((margin_counter[rows] + margin_now[rows]) / 2.0)
        s_now = scores_now["health_score"].to_numpy()
        s_then = scores_then["health_score"].to_numpy()
        points = split_score_change(
            phi_now[:, :-1] - phi_then[:, :-1], s_now - score_counter, slope
        )
        specs = [self.catalog_[n] for n in self.feature_names_]
        table = change_table(
            now.ids,
            points,
            specs,
            self._value_getter(then),
            self._value_getter(now),
            score_counter - s_then,
            then.profiles,
            now.profiles,
            top_k,
        )
        summary = pd.DataFrame(
            {
                "account_id": now.ids,
                "profile_then": then.profiles,
                "profile_now": now.profiles,
                "score_then": s_then,
                "score_now": s_now,
                "score_change": s_now - s_then,
                "band_then": scores_then["band"].to_numpy(),
                "band_now": scores_now["band"].to_numpy(),
            }
        )
        return ChangeExplanation(summary, table)

    def roll_up(
        self,
        tree: pd.DataFrame,
        scores: pd.DataFrame,
        weighting: Weighting = "count",
        reasons: pd.DataFrame | None = None,
        top_children: int = 3,
        top_reasons: int = 5,
    ) -> RollUp:
        """Roll account scores up the hierarchy with this model's band weights.

        See :func:`models.rollup.roll_up` for the arguments and the definition.
        """
        return roll_up(
            tree,
            scores,
            weighting=weighting,
            band_weights=self.band_weights,
            reasons=reasons,
            top_children=top_children,
            top_reasons=top_reasons,
        )

    def save(self, directory: str | Path) -> Path:
        """Write the model to a directory (JSON manifest + LightGBM model text files)."""
        from models.persistence import save_model

        return save_model(self, directory)

    @classmethod
    def load(cls, directory: str | Path) -> HealthModel:
        """Read a model written by :meth:`save`."""
        from models.persistence import load_model

        return load_model(directory)

    def _batch(self, frame: pd.DataFrame) -> _Batch:
        if not hasattr(self, "profiles_"):
            raise NotFittedError("this HealthModel is not fitted yet: call fit or load first")
        ids = frames.check_frame(frame, self._layout, need_tenure=self.router_.needs_tenure)
        segment = frame[frames.SEGMENT].to_numpy(dtype=object, na_value=None)
        tenure = frame[frames.TENURE_DAYS].to_numpy(dtype=np.float64, na_value=np.nan)
        return _Batch(
            frame,
            ids,
            self.router_.route(segment, tenure),
            frames.numeric_matrix(frame, self._layout),
            frames.categorical_values(frame, self._layout),
        )

    def _matrix(self, batch: _Batch, name: str, rows: np.ndarray) -> np.ndarray:
        if not self._layout.categorical:
            return batch.X if len(rows) == len(batch.ids) else batch.X[rows]
        return frames.encode(batch.X, batch.raw, self._layout, self.profiles_[name].codes, rows)

    def _explained(self, batch: _Batch) -> tuple[np.ndarray, np.ndarray]:
        """TreeSHAP contributions (base value last) and raw margins of every row."""
        phi = np.empty((len(batch.ids), len(self.feature_names_) + 1))
        margin = np.empty(len(batch.ids))
        for name, rows in batch.groups:
            X = self._matrix(batch, name, rows)
            margin[rows], phi[rows] = self.profiles_[name].shap.explain(X)
        return phi, margin

    def _margins(self, batch: _Batch) -> np.ndarray:
        margin = np.empty(len(batch.ids))
        for name, rows in batch.groups:
            margin[rows] = _margin(
                self.profiles_[name].piece.booster, self._matrix(batch, name, rows)
            )
        return margin

    def _scores(self, batch: _Batch, margin: np.ndarray, **extra: np.ndarray) -> pd.DataFrame:
        probability = np.empty(len(batch.ids))
        band = np.empty(len(batch.ids), dtype=object)
        pooled = np.empty(len(batch.ids), dtype=bool)
        for name, rows in batch.groups:
            profile = self.profiles_[name]
            probability[rows] = profile.piece.calibrator.transform(margin[rows])
            band[rows] = assign_bands(health_score(probability[rows]), profile.bands)
            pooled[rows] = profile.piece.pooled
        columns: dict[str, object] = {"account_id": batch.ids}
        if frames.AS_OF in batch.frame.columns:
            columns[frames.AS_OF] = batch.frame[frames.AS_OF].to_numpy()
        columns.update(
            profile=batch.profiles,
            pooled=pooled,
            churn_probability=probability,
            health_score=health_score(probability),
            band=band,
            **extra,
        )
        return pd.DataFrame(columns, index=batch.frame.index)

    def _value_getter(self, batch: _Batch) -> ValueGetter:
        def value_at(j: int, rows: np.ndarray) -> np.ndarray:
            name = self.feature_names_[j]
            if name in batch.raw:
                return batch.raw[name][rows]
            return batch.X[rows, j].astype(object)

        return value_at

    def _previous_getter(self, batch: _Batch) -> PreviousGetter:
        def previous_at(j: int, rows: np.ndarray) -> np.ndarray | None:
            column = self.catalog_[self.feature_names_[j]].previous
            if column is None or column not in batch.frame.columns:
                return None
            return batch.frame[column].to_numpy(dtype=object, na_value=np.nan)[rows]

        return previous_at


def _margin(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    # a thread team costs more than it saves on a few rows, and waits for a free core when busy
    threads = {"num_threads": 1} if len(X) <= _SMALL_BATCH else {}
    return booster.predict(X, raw_score=True, **threads)
