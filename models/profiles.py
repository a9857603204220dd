"""Health profiles: the fitted piece of each profile, and routing an account to its profile.

Routing follows the model's profile rules (the settings' profiles, in order, turned into
:class:`ProfileRule` by the training stage): an account goes to the first profile whose rules all
hold -- ``max_tenure_days`` (tenure strictly below it, e.g. onboarding) and ``segments`` (the
account's segment is listed). A profile with neither rule matches no account by rule; accounts
that no rule matches (a null or unlisted segment included) go to ``default_profile``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import lightgbm as lgb
import numpy as np

from vitals.features.catalog import FeatureSpec
from vitals.models.calibration import Calibrator
from vitals.models.frames import FeatureLayout
from vitals.models.scoring import Bands, default_bands
from vitals.models.survival import RiskPiece
from vitals.models.treeshap import TreeShap

_SLOPE_STEP = 1e-6  # log-odds step of the central difference for S'(M)
_CERTAIN = 1e-12  # a churn probability of 1 is held just below it, so health stays a number


@dataclass(frozen=True)
class ProfileRule:
    """A health profile as the model routes to it.

    Attributes:
        name: profile name.
        segments: segments it takes (empty: any segment).
        max_tenure_days: it takes accounts with tenure strictly below this (``None``: any tenure).
        bands: its band thresholds, when configured.
    """

    name: str
    segments: tuple[str, ...] = field(default=())
    max_tenure_days: int | None = None
    bands: Bands | None = None

    def to_dict(self) -> dict[str, object]:
        """The rule as plain JSON data."""
        return {
            "name": self.name,
            "segments": list(self.segments),
            "max_tenure_days": self.max_tenure_days,
            "bands": None if self.bands is None else self.bands.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ProfileRule:
        """Read :meth:`to_dict`'s output (keys of other settings, as older models hold, ignored)."""
        bands = data.get("bands")
        tenure = data.get("max_tenure_days")
        return cls(
            name=str(data["name"]),
            segments=tuple(str(s) for s in data.get("segments") or ()),  # type: ignore[union-attr]
            max_tenure_days=None if tenure is None else int(tenure),  # type: ignore[call-overload]
            bands=None if bands is None else Bands(**bands),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class ProfileModel:
    """One profile's fitted piece, as the training stage hands it over.

    Attributes:
        name: profile name (a name from the settings' profiles, or the default profile).
        booster: the health booster: binary LightGBM, P(churn within the horizon) from everything
            but the calendar features (its own, or the pooled one shared by fallback profiles).
        calibrator: fitted :class:`~vitals.models.calibration.Calibrator` from margin to
            probability.
        base_rate: share of churners in the profile's training window, in (0, 1).
        pooled: ``True`` when the profile had too little data and uses the pooled booster.
        bands: band thresholds; ``None`` takes the profile rule's thresholds, else the
            defaults from ``base_rate`` (see :mod:`vitals.models.scoring`).
        categories: training levels per categorical feature; ``None`` reads them from the
            booster (``booster.pandas_categorical``, set when it was trained on a DataFrame).
        risk: the risk curve's boosters (``None`` in models saved before the curve: their one
            booster gave both health and risk).
    """

    name: str
    booster: lgb.Booster
    calibrator: Calibrator
    base_rate: float
    pooled: bool = False
    bands: Bands | None = None
    categories: Mapping[str, Sequence[str]] | None = None
    risk: RiskPiece | None = None


@dataclass(frozen=True)
class FittedProfile:
    """A piece checked against the model: its booster copy, resolved bands and categories.

    Attributes:
        piece: the piece, with ``bands`` and ``categories`` filled in.
        shap: the TreeSHAP explainer of its booster (shared by profiles sharing the booster).
        codes: per categorical feature, the code of each training level.
        exponent: the health score's exponent (see :func:`~vitals.models.scoring.health_score`).
        risk_shap: the TreeSHAP explainer of the risk piece's horizon booster (``None`` without
            one).
    """

    piece: ProfileModel
    shap: TreeShap
    codes: dict[str, dict[str, int]]
    exponent: float = 1.0
    risk_shap: TreeShap | None = None

    @property
    def bands(self) -> Bands:
        """The profile's band thresholds."""
        assert self.piece.bands is not None  # filled in by fit_profile
        return self.piece.bands

    def log_survival(self, margin: np.ndarray) -> np.ndarray:
        """``exponent * log(1 - p)`` at raw margins: the log of health / 100 over the whole span
        (a stage of a span spent in this profile weighs it by its share)."""
        p = np.clip(self.piece.calibrator.transform(margin), 0.0, 1.0 - _CERTAIN)
        return self.exponent * np.log1p(-p)

    def log_survival_slope(self, margin: np.ndarray) -> np.ndarray:
        """Derivative of :meth:`log_survival` in the margin (central difference)."""
        up, down = self.log_survival(margin + _SLOPE_STEP), self.log_survival(margin - _SLOPE_STEP)
        return (up - down) / (2.0 * _SLOPE_STEP)


def fit_profiles(
    pieces: Sequence[ProfileModel],
    catalog: Mapping[str, FeatureSpec],
    rules: Sequence[ProfileRule],
    exponent: float,
) -> tuple[dict[str, FittedProfile], FeatureLayout]:
    """Every piece checked and fitted (:func:`fit_profile`), with the model's feature layout.

    Boosters shared by several pieces (the pooled one) get one copy and one explainer. The copy
    keeps only the trees predict uses (best iteration) and no training data.
    """
    explainers: dict[int, tuple[lgb.Booster, TreeShap]] = {}
    for piece in pieces:
        if id(piece.booster) not in explainers:
            booster = lgb.Booster(model_str=piece.booster.model_to_string())
            explainers[id(piece.booster)] = (booster, TreeShap(booster))
    risk_explainers = {
        id(p.risk.booster): TreeShap(p.risk.booster) for p in pieces if p.risk is not None
    }
    first = explainers[id(pieces[0].booster)][1]
    layout = FeatureLayout(tuple(first.feature_names), tuple(first.categorical_features))
    rule_bands = {r.name: r.bands for r in rules}
    fitted = {
        p.name: fit_profile(
            p,
            *explainers[id(p.booster)],
            layout,
            catalog,
            rule_bands.get(p.name),
            exponent,
            None if p.risk is None else risk_explainers[id(p.risk.booster)],
        )
        for p in pieces
    }
    return fitted, layout


def fit_profile(
    piece: ProfileModel,
    booster: lgb.Booster,
    shap: TreeShap,
    layout: FeatureLayout,
    catalog: Mapping[str, FeatureSpec],
    rule_bands: Bands | None,
    exponent: float = 1.0,
    risk_shap: TreeShap | None = None,
) -> FittedProfile:
    """Check a piece and fill in its bands (piece, else its rule, else base-rate defaults).

    Args:
        piece: the piece from training.
        booster: the model's copy of the piece's booster.
        shap: the explainer of that booster.
        layout: the model's features.
        catalog: catalog entry by feature name.
        rule_bands: the profile rule's thresholds, if any.
        exponent: the health score's exponent.
        risk_shap: the explainer of the risk piece's horizon booster.

    Returns:
        The fitted profile.

    Raises:
        ValueError: features that differ from the model's or the catalog's, or no categories.
        NotFittedError: an unfitted calibrator.
    """
    _check_piece(piece.name, shap, layout, catalog)
    piece.calibrator.transform(np.zeros(1))
    if piece.risk is not None:
        for kind, other in (("risk", piece.risk.booster), ("step", piece.risk.step_booster)):
            if tuple(other.feature_name()) != layout.names:
                raise ValueError(f"profile {piece.name!r}: {kind} booster features differ")
    bands = piece.bands or rule_bands or default_bands(piece.base_rate, exponent)
    categories = _categories(piece, booster, layout)
    codes = {n: {v: i for i, v in enumerate(levels)} for n, levels in categories.items()}
    resolved = replace(piece, booster=booster, bands=bands, categories=categories)
    return FittedProfile(resolved, shap, codes, exponent, risk_shap)


class ProfileRouter:
    """Routes accounts to profile names by segment and tenure (rules in the module docstring).

    Args:
        rules: the profile rules, in priority order.
        default_profile: profile of accounts no rule matches.
    """

    def __init__(self, rules: Sequence[ProfileRule], default_profile: str) -> None:
        self.rules = rules
        self.default_profile = default_profile

    @property
    def profile_names(self) -> list[str]:
        """Every profile an account can be routed to."""
        names = [r.name for r in self.rules if r.segments or r.max_tenure_days is not None]
        return [*dict.fromkeys([*names, self.default_profile])]

    @property
    def needs_tenure(self) -> bool:
        """Whether any rule reads ``tenure_days``."""
        return any(r.max_tenure_days is not None for r in self.rules)

    def stages(
        self, segment: np.ndarray, tenure_days: np.ndarray, span_days: int | None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The profiles each account passes through over the next ``span_days`` as its tenure
        grows, with the share of the span spent in each (shares add up to 1 per account).

        An account leaves a profile with ``max_tenure_days`` when its tenure reaches it, and goes
        to the profile routing gives it then. ``span_days=None`` gives one stage, today's profile.
        """
        profile = self.route(segment, tenure_days)
        if span_days is None:
            return [(profile, np.ones(len(segment)))]
        limits = {r.name: r.max_tenure_days for r in self.rules if r.max_tenure_days is not None}
        tenure = np.asarray(tenure_days, dtype=np.float64).copy()
        left = np.full(len(segment), float(span_days))
        stages = []
        for _ in range(len(self.rules) + 1):
            limit = np.array([limits.get(p, np.inf) for p in profile], dtype=np.float64)
            days = np.minimum(np.clip(limit - tenure, 0.0, None), left)
            days = np.where(
                np.isnan(days), left, days
            )  # unknown tenure: today's profile throughout
            stages.append((profile, days / span_days))
            tenure, left = tenure + days, left - days
            if not (left > 0).any():
                break
            profile = self.route(segment, tenure)
        return stages

    def route(self, segment: np.ndarray, tenure_days: np.ndarray) -> np.ndarray:
        """Profile name per account.

        Args:
            segment: segment per account (object array, ``None`` for null).
            tenure_days: tenure per account in days.

        Returns:
            Object array of profile names.
        """
        profile = np.full(len(segment), self.default_profile, dtype=object)
        open_ = np.ones(len(segment), dtype=bool)
        for rule in self.rules:
            if not rule.segments and rule.max_tenure_days is None:
                continue
            match = open_.copy()
            if rule.max_tenure_days is not None:
                match &= tenure_days < rule.max_tenure_days
            if rule.segments:
                listed = set(rule.segments)
                match &= np.fromiter((s in listed for s in segment), bool, len(segment))
            profile[match] = rule.name
            open_ &= ~match
        return profile


def _check_piece(
    name: str, shap: TreeShap, layout: FeatureLayout, catalog: Mapping[str, FeatureSpec]
) -> None:
    """Check a piece's booster against the model's features and the catalog.

    Raises:
        ValueError: other features than the first piece's, a feature without a catalog entry, or
            categorical features that differ between booster and catalog.
    """
    if tuple(shap.feature_names) != layout.names:
        raise ValueError(f"profile {name!r}: booster features differ from the other profiles'")
    if missing := [f for f in layout.names if f not in catalog]:
        raise ValueError(f"feature(s) {missing} have no catalog entry")
    in_catalog = tuple(f for f in layout.names if catalog[f].kind == "categorical")
    if tuple(shap.categorical_features) != in_catalog or layout.categorical != in_catalog:
        raise ValueError(
            f"profile {name!r}: booster categorical features {shap.categorical_features} differ "
            f"from the catalog's {list(in_catalog)}"
        )


def _categories(
    piece: ProfileModel, booster: lgb.Booster, layout: FeatureLayout
) -> dict[str, list[str]]:
    """Training levels per categorical feature: given on the piece, else from the booster.

    Raises:
        ValueError: when neither has them.
    """
    if not layout.categorical:
        return {}
    if piece.categories is not None:
        given = {k: [str(v) for v in vs] for k, vs in piece.categories.items()}
    elif booster.pandas_categorical and len(booster.pandas_categorical) == len(layout.categorical):
        given = {
            n: [str(v) for v in vs]
            for n, vs in zip(layout.categorical, booster.pandas_categorical, strict=True)
        }
    else:
        given = {}
    if missing := [n for n in layout.categorical if n not in given]:
        raise ValueError(f"profile {piece.name!r}: no training categories for {missing}")
    return {n: given[n] for n in layout.categorical}
