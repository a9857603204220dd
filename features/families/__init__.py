"""Every feature family, and the feature set a data directory supports."""

from __future__ import annotations

from vitals.features.catalog import Vocabulary
from vitals.features.definitions import Feature
from vitals.features.families.account import attribute_features, financial_and_lifecycle
from vitals.features.families.activity import engagement_and_usage
from vitals.features.families.vocabulary import vocabulary_features
from vitals.features.families.voice import (
    feedback_features,
    sentiment_features,
    support_features,
)


def feature_set(
    tables: set[str], vocabulary: Vocabulary, categorical: list[str], numeric: list[str]
) -> list[Feature]:
    """Every feature computable from the present ``tables``, in output order."""
    usage, account = engagement_and_usage(), financial_and_lifecycle()
    reserved = frozenset(f.spec.name for f in usage + account)
    feats = usage + vocabulary_features(vocabulary, reserved) + account
    if "tickets" in tables:
        feats += support_features()
    if "surveys" in tables:
        feats += feedback_features()
    if "sentiment" in tables:
        feats += sentiment_features()
    return feats + attribute_features(categorical, numeric)
