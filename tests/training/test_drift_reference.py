"""Training keeps its training window's feature distributions with the model (drift reference)."""

from __future__ import annotations

import numpy as np
import pytest

from vitals.models.drift import feature_shifts, reference_of
from vitals.training.pipeline import TrainingOutcome


def test_the_model_keeps_the_training_windows_distributions(outcome: TrainingOutcome) -> None:
    model = outcome.model
    reference = reference_of(model.metadata_)
    assert reference is not None
    assert reference.rows == len(outcome.split.train)
    assert [f.name for f in reference.features] == model.feature_names_
    kinds = {f.name: f.kind for f in reference.features}
    assert all(kinds[n] == model.catalog_[n].kind for n in model.feature_names_)
    for feature in reference.features:
        assert sum(feature.shares) == pytest.approx(1.0)
    shifts, absent = feature_shifts(reference, outcome.split.train)
    assert absent == [] and all(s.psi == 0.0 for s in shifts)
    later, _ = feature_shifts(reference, outcome.split.test)
    assert all(np.isfinite(s.psi) for s in later)
