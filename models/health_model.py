"""The HealthModel: what training produces and serving loads.

Per health profile it holds a calendar-free health booster, the risk curve's boosters, their
calibrators and band thresholds (see :class:`~vitals.models.profiles.ProfileModel` and
:mod:`vitals.models.survival`), plus the declared feature set it reads. It predicts each account's
health score and band (whether), its risk of churning within 30, 90, 180 and 365 days and by its
next renewal (when), explains health in health points (:mod:`vitals.models.reasons`), and rolls
scores up an account hierarchy (:mod:`vitals.models.rollup`). Nothing is trained here: ``fit``
assembles pieces the training stage fitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError

from vitals.features.catalog import FeatureSet
from vitals.models import frames
from vitals.models.change import explain_change
from vitals.models.core import Rows, RowScores, score_rows
from vitals.models.explain import (
    ChangeExplanation,
    Explanation,
    ReasonColumns,
    reason_columns,
    reason_records,
    reasons_table,
)
from vitals.models.persistence import SavedModel, read_model, write_model
from vitals.models.profiles import ProfileModel, ProfileRouter, ProfileRule, fit_profiles
from vitals.models.records import Problem, RecordReader, RecordScore
from vitals.models.risk_explain import risk_change, risk_reasons
from vitals.models.risk_scoring import Risk, score_risk
from vitals.models.rollup import RollUp, Weighting, roll_up
from vitals.models.survival import HORIZONS, health_exponent

RISK_COLUMNS = tuple(f"risk_{days}d" for days in HORIZONS)


class HealthModel:
    """Calibrated, explained customer health per account (scikit-learn estimator contract).

    Args:
        feature_set: the declared features (every booster feature needs one), with the horizon
            and grace gap of the labels the boosters were trained on.
        routing: the health profiles' rules, in priority order.
        default_profile: profile of accounts no routing rule matches.
        band_weights: health of a band when rolling up (default good 1, average 0.5, poor 0).
        health_span_days: health is the chance of staying this long at the account's calendar-free
            churn rate (training sets :data:`~vitals.models.survival.HEALTH_SPAN_DAYS`; ``None``:
            health is ``100 * (1 - p)`` of the horizon's risk, as models saved before the survival
            curve had it).

    Attributes:
        profiles_: fitted pieces by profile name.
        feature_names_: booster features, in order.
        feature_set_: the exact feature set the boosters read, in their order.
        catalog_: catalog entry by feature name.
        router_: routes accounts to profiles.
        metadata_: what training recorded (training window, model version, ...).
    """

    def __init__(
        self,
        feature_set: FeatureSet,
        routing: Sequence[ProfileRule] = (),
        default_profile: str = "default",
        band_weights: Mapping[str, float] | None = None,
        health_span_days: int | None = None,
    ) -> None:
        self.feature_set = feature_set
        self.routing = routing
        self.default_profile = default_profile
        self.band_weights = band_weights
        self.health_span_days = health_span_days

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
        catalog = {s.name: s for s in self.feature_set.features}
        router = ProfileRouter(list(self.routing), self.default_profile)
        names = [p.name for p in profiles]
        expected = router.profile_names
        if len(set(names)) != len(names):
            raise ValueError(f"profile pieces must have distinct names, got {names}")
        if unknown := sorted(set(names) - set(expected)):
            raise ValueError(f"unknown profile(s) {unknown}: routing only knows {expected}")
        if absent := [n for n in expected if n not in names]:
            raise ValueError(f"profile(s) {absent} have no fitted model")
        span = self.health_span_days
        exponent = 1.0 if span is None else health_exponent(self.feature_set.horizon_days, span)
        fitted, layout = fit_profiles(profiles, catalog, self.routing, exponent)
        self.profiles_ = fitted
        self.feature_names_ = list(layout.names)
        self.feature_set_ = self.feature_set.select(layout.names)
        self.catalog_ = {s.name: s for s in self.feature_set_.features}
        self.router_ = router
        self.metadata_ = dict(metadata or {})
        self._layout = layout
        self._reader = RecordReader.for_feature_set(
            self.feature_set_, router, self.health_span_days
        )
        self._specs = [catalog[n] for n in layout.names]
        return self

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Calibrated churn probability, health score, band and profile per row.

        Args:
            frame: snapshot rows (see :mod:`vitals.models.frames` for the columns).

        Returns:
            Columns ``account_id, [as_of], profile, pooled, churn_probability, health_score,
            band, risk_30d, risk_90d, risk_180d, risk_365d, renewal_risk``, indexed like
            ``frame``; ``churn_probability`` is the risk within the model's horizon.

        Raises:
            InputError: bad input (the message names the column and account).
        """
        rows = self._rows(frame)
        return self._table(frame, rows, self._score(rows, contributions=False))

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP contributions in log-odds per feature plus ``base_value``, like ``frame``.

        Each row sums to the raw margin of the row's profile booster.
        """
        scores = self._score(self._rows(frame), contributions=True)
        columns = [*self.feature_names_, "base_value"]
        return pd.DataFrame(scores.phi, columns=columns, index=frame.index)

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
        rows = self._rows(frame)
        scores = self._score(rows, contributions=True)
        reasons = reasons_table(rows.ids, self._reasons(rows, scores, top_k))
        table = self._table(frame, rows, scores, baseline_score=scores.baseline_score)
        return Explanation(table, reasons)

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) the one-row TreeSHAP kernels now.

        A server calls this when it loads the model, so the first request does not pay for it.
        """
        for profile in self.profiles_.values():
            profile.shap.explain(np.full((1, profile.shap.n_features), np.nan))

    @property
    def required_fields(self) -> list[str]:
        """Every key a record for :meth:`explain_records` must have."""
        return self._reader.required

    def check_record(self, record: Mapping[str, Any], *, strict: bool = False) -> list[Problem]:
        """What stops a plain-dict account from being scored (empty when it can be); ``strict``
        (features a client sends) also refuses unknown keys and impossible numbers."""
        return self._reader.problems(record, strict=strict)

    def explain_records(
        self, records: Sequence[Mapping[str, Any]], top_k: int
    ) -> list[RecordScore]:
        """Score and explain accounts given as plain dicts that passed :meth:`check_record`.

        The same numbers as :meth:`explain`, without pandas (the API's path).

        Args:
            records: one dict per account (see :mod:`vitals.models.records`).
            top_k: reasons per account (0 for none).

        Returns:
            One :class:`RecordScore` per record, in order.
        """
        if not records:
            return []
        rows = self._reader.rows(records, [""] * len(records))
        scores = self._score(rows, contributions=True)
        risk = self._risk(rows, scores)
        if top_k > 0:
            reasons = reason_records(len(records), self._reasons(rows, scores, top_k))
        else:
            reasons = [[] for _ in records]
        baseline = scores.baseline_score
        assert baseline is not None  # computed with the contributions
        return [
            RecordScore(
                str(rows.profiles[i]),
                float(risk.churn_probability[i]),
                float(scores.score[i]),
                str(scores.band[i]),
                float(baseline[i]),
                reasons[i],
                {days: _number(risk.curve[i, j]) for j, days in enumerate(HORIZONS)},
                _number(risk.renewal[i]),
            )
            for i in range(len(records))
        ]

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
        now, earlier = self._rows(frame_now), self._rows(frame_then)
        return explain_change(self.profiles_, self._layout, self._specs, earlier, now, top_k)

    def explain_risk(self, frame: pd.DataFrame, top_k: int = 5) -> pd.DataFrame:
        """What drives each account's risk within the horizon, timing included, in percentage
        points of risk (see :func:`vitals.models.risk_explain.risk_reasons`)."""
        rows = self._rows(frame)
        return risk_reasons(self.profiles_, self._layout, self._specs, rows, top_k)

    def explain_risk_change(
        self, frame_then: pd.DataFrame, frame_now: pd.DataFrame, top_k: int | None = None
    ) -> pd.DataFrame:
        """Why each account's risk within the horizon moved between two snapshots, in
        percentage points (see :func:`vitals.models.risk_explain.risk_change`)."""
        now, earlier = self._rows(frame_now), self._rows(frame_then)
        return risk_change(self.profiles_, self._layout, self._specs, earlier, now, top_k)

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

        See :func:`vitals.models.rollup.roll_up` for the arguments and the definition.
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
        """Write the fitted model to a directory (see :mod:`vitals.models.persistence`).

        Raises:
            NotFittedError: an unfitted model.
            FileExistsError: the directory already holds a model.
            TypeError: metadata that JSON cannot hold.
        """
        if not hasattr(self, "profiles_"):
            raise NotFittedError("only a fitted HealthModel can be saved")
        saved = SavedModel(
            feature_set=self.feature_set_,
            routing=list(self.routing),
            default_profile=self.default_profile,
            band_weights=None if self.band_weights is None else dict(self.band_weights),
            health_span_days=self.health_span_days,
            metadata=self.metadata_,
            pieces=[p.piece for p in self.profiles_.values()],
        )
        return write_model(directory, saved)

    @classmethod
    def load(cls, directory: str | Path) -> HealthModel:
        """Read a model written by :meth:`save` (or by an earlier format version).

        Raises:
            ValueError: not a Vitals model directory, or a newer format version.
        """
        saved = read_model(directory)
        model = cls(
            saved.feature_set,
            saved.routing,
            saved.default_profile,
            saved.band_weights,
            saved.health_span_days,
        )
        model.fit(saved.pieces, metadata=saved.metadata)
        if model.feature_names_ != saved.feature_set.names:
            raise ValueError(f"{directory}: booster features differ from the saved feature set")
        return model

    def _rows(self, frame: pd.DataFrame) -> Rows:
        if not hasattr(self, "profiles_"):
            raise NotFittedError("this HealthModel is not fitted yet: call fit or load first")
        ids = frames.check_frame(frame, self._layout, need_tenure=self.router_.needs_tenure)
        segment = frame[frames.SEGMENT].to_numpy(dtype=object, na_value=None)
        tenure = frame[frames.TENURE_DAYS].to_numpy(dtype=np.float64, na_value=np.nan)

        def previous(column: str, at: np.ndarray) -> np.ndarray | None:
            if column not in frame.columns:
                return None
            return frame[column].to_numpy(dtype=object, na_value=np.nan)[at]

        stages = self.router_.stages(segment, tenure, self.health_span_days)
        return Rows(
            ids,
            stages[0][0],
            frames.numeric_matrix(frame, self._layout),
            frames.categorical_values(frame, self._layout),
            previous,
            stages,
        )

    def _score(self, rows: Rows, *, contributions: bool) -> RowScores:
        return score_rows(self.profiles_, self._layout, rows, contributions=contributions)

    def _risk(self, rows: Rows, scores: RowScores) -> Risk:
        horizon = self.feature_set_.horizon_days
        return score_risk(self.profiles_, self._layout, rows, scores.probability, horizon)

    def _table(
        self, frame: pd.DataFrame, rows: Rows, scores: RowScores, **extra: np.ndarray | None
    ) -> pd.DataFrame:
        columns: dict[str, object] = {"account_id": rows.ids}
        if frames.AS_OF in frame.columns:
            columns[frames.AS_OF] = frame[frames.AS_OF].to_numpy()
        risk = self._risk(rows, scores)
        columns.update(
            profile=rows.profiles,
            pooled=scores.pooled,
            churn_probability=risk.churn_probability,
            health_score=scores.score,
            band=scores.band,
            **dict(zip(RISK_COLUMNS, risk.curve.T, strict=True)),
            renewal_risk=risk.renewal,
            **extra,
        )
        return pd.DataFrame(columns, index=frame.index)

    def _reasons(self, rows: Rows, scores: RowScores, top_k: int) -> ReasonColumns:
        points = scores.points()
        return reason_columns(
            points,
            scores.phi,  # type: ignore[arg-type]
            top_k,
            self._specs,
            rows.value_getter(self._layout),
            rows.previous_getter(self._layout, self._specs),
        )


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
