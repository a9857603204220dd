"""Builders of the drift tests: a model whose reference is the newest stored date, and shifts.

The reference of :func:`with_reference` is taken from the newest stored date itself, so an
unchanged store has a PSI of exactly 0 on every feature, and a shifted feature stands out alone.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from vitals.config.settings import Settings
from vitals.features.catalog import FeatureSet
from vitals.models.drift import REFERENCE_KEY, reference_distribution, reference_of
from vitals.models.health_model import HealthModel
from vitals.training.assemble import unfitted_model

VERSION = "drift-1"


def with_reference(
    model: HealthModel, feature_set: FeatureSet, frame: pd.DataFrame, version: str = VERSION
) -> HealthModel:
    """The same boosters and calibrators, with ``frame`` as the training window's distribution."""
    names = model.feature_names_
    categorical = [n for n in names if model.catalog_[n].kind == "categorical"]
    reference = reference_distribution(frame, names, categorical)
    metadata: dict[str, Any] = {
        **model.metadata_,
        "model_version": version,
        REFERENCE_KEY: reference.to_dict(),
    }
    pieces = [p.piece for p in model.profiles_.values()]
    return unfitted_model(feature_set, Settings()).fit(pieces, metadata=metadata)


def widest_numeric(model: HealthModel) -> str:
    """The numeric feature with the most reference bins (the clearest one to shift)."""
    reference = reference_of(model.metadata_)
    assert reference is not None
    numeric = [f for f in reference.features if f.kind == "numeric"]
    return max(numeric, key=lambda f: (len(f.cuts), f.name)).name


def shifted(frame: pd.DataFrame, feature: str) -> pd.DataFrame:
    """``frame`` with ``feature`` moved far above every training value."""
    return frame.assign(**{feature: frame[feature].fillna(0.0) * 10 + 1e6})
