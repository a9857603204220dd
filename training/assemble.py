"""From the settings to the model's own types: profile rules, and an unfitted HealthModel."""

from __future__ import annotations

from collections.abc import Sequence

from vitals.config.settings import ProfileConfig, Settings
from vitals.features.catalog import FeatureSet
from vitals.models.health_model import HealthModel
from vitals.models.profiles import ProfileRule
from vitals.models.scoring import Bands
from vitals.models.survival import HEALTH_SPAN_DAYS


def profile_rules(profiles: Sequence[ProfileConfig]) -> list[ProfileRule]:
    """The settings' health profiles as the model routes to them (same order)."""
    return [
        ProfileRule(
            name=p.name,
            segments=tuple(p.segments),
            max_tenure_days=p.max_tenure_days,
            bands=None if p.bands is None else Bands(good=p.bands.good, poor=p.bands.poor),
        )
        for p in profiles
    ]


def unfitted_model(feature_set: FeatureSet, settings: Settings) -> HealthModel:
    """A HealthModel reading ``feature_set``, with routing, bands and weights from the settings."""
    return HealthModel(
        feature_set,
        profile_rules(settings.profiles),
        settings.default_profile,
        settings.band_weights,
        HEALTH_SPAN_DAYS,
    )
