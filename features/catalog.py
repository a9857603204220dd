"""Feature declarations: what each feature means, apart from how it is computed.

Later stages read this catalog to name features in plain language ("Active users per seat fell
from 0.62 to 0.31 over 30 days") and to know which direction is healthy. A :class:`FeatureSet`
declares a whole snapshot table the way a Feast feature view does (entity, timestamp column, typed
features, version); a trained model records the exact set it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Family = Literal[
    "engagement",
    "usage",
    "trend",
    "feedback",
    "support",
    "sentiment",
    "financial",
    "lifecycle",
    "attribute",
]
FeatureKind = Literal["numeric", "categorical"]
ENTITY_COLUMN = "account_id"
TIMESTAMP_COLUMN = "as_of"
# Bump when a feature's definition changes meaning, so that a model trained on the old one says so.
FEATURE_SET_VERSION = 2
_DTYPES: dict[str, str] = {"numeric": "float64", "categorical": "string"}


USAGE = "Product usage"
ADOPTION = "Breadth of adoption"
SEATS = "Seats and licences"
SUPPORT = "Support experience"
SURVEYS = "Survey feedback"
SENTIMENT = "CSM sentiment"
CONTRACT = "Contract and billing"
PROFILE = "Account profile"
_FAMILY_MEASURES = {
    "support": SUPPORT,
    "feedback": SURVEYS,
    "sentiment": SENTIMENT,
    "financial": CONTRACT,
    "lifecycle": PROFILE,
    "attribute": PROFILE,
}


def default_measure(name: str, family: str) -> str:
    """The measure of a built-in feature: usage, adoption, seats, support, surveys, contract or
    the account's profile (discovered event types name their own, see the vocabulary family)."""
    if name.startswith(("features_used", "feature_breadth")):
        return ADOPTION
    if name.startswith(("seats", "license_utilization", "events_per_seat")):
        return SEATS
    return _FAMILY_MEASURES.get(family, USAGE)


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of a snapshot.

    Attributes:
        name: column name in the snapshot table.
        family: the feature family (a missing optional table removes its whole family).
        label: short plain-language name used at the start of a sentence ("Active users per seat").
        description: one sentence on how it is computed.
        unit: unit of the value ("users", "days", "ratio", "share", "currency", "count", ...).
        window_days: length of the look-back window, or ``None`` for point-in-time values.
        higher_is_better: ``True`` if more is healthier, ``False`` if less is, ``None`` if neutral.
        previous: name of the same metric over the window before, when the pipeline has it.
        kind: ``numeric`` or ``categorical``.
        minimum: the smallest possible value (e.g. 0 for counts), ``None`` when unbounded.
        measure: the measure a CS team knows it by ("Product usage"); reasons add up the
            features of one measure (default: :func:`default_measure`).
        previous_window: the window is the one before the latest (``window_days`` earlier).
    """

    name: str
    family: Family
    label: str
    description: str
    unit: str
    window_days: int | None = None
    higher_is_better: bool | None = None
    previous: str | None = None
    kind: FeatureKind = "numeric"
    minimum: float | None = None
    measure: str = ""
    previous_window: bool = False

    def __post_init__(self) -> None:
        if not self.measure:  # specs written before measures existed get theirs here too
            object.__setattr__(self, "measure", default_measure(self.name, self.family))

    @property
    def dtype(self) -> str:
        """Column type in a snapshot table: ``float64`` (numeric) or ``string`` (categorical)."""
        return _DTYPES[self.kind]

    def to_dict(self) -> dict[str, object]:
        """The spec as a plain JSON-able dict (with its ``dtype``)."""
        return {**asdict(self), "dtype": self.dtype}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FeatureSpec:
        """Rebuild a spec written by :meth:`to_dict`."""
        fields = {k: v for k, v in data.items() if k != "dtype"}
        return cls(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class KeyEvent:
    """A usage metric the customer names (like a key event in commercial CS tools).

    Attributes:
        name: the metric's name, used in labels ("Reports built").
        event_types: the event types it counts.
        features: the product features (events' ``feature``) it counts.
        higher_is_better: whether more of it is healthier.
    """

    name: str
    event_types: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    higher_is_better: bool = True

    def to_dict(self) -> dict[str, object]:
        """The key event as plain JSON data."""
        return {
            "name": self.name,
            "event_types": list(self.event_types),
            "features": list(self.features),
            "higher_is_better": self.higher_is_better,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> KeyEvent:
        """Rebuild a key event written by :meth:`to_dict`."""
        return cls(
            str(data["name"]),
            tuple(str(t) for t in data.get("event_types") or ()),  # type: ignore[attr-defined]
            tuple(str(f) for f in data.get("features") or ()),  # type: ignore[attr-defined]
            bool(data.get("higher_is_better", True)),
        )


@dataclass(frozen=True)
class Vocabulary:
    """The customer's own usage vocabulary that snapshots count one by one.

    Attributes:
        event_types: the event types kept (by volume); the rest count together as "other".
        features: the product features kept (by volume); the rest count together as "other".
        key_events: the customer's named usage metrics.
        other_event_types: whether event types beyond the kept ones exist (an "other" count).
        other_features: whether product features beyond the kept ones exist.
    """

    event_types: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    key_events: tuple[KeyEvent, ...] = ()
    other_event_types: bool = False
    other_features: bool = False

    def to_dict(self) -> dict[str, object]:
        """The vocabulary as plain JSON data."""
        return {
            "event_types": list(self.event_types),
            "features": list(self.features),
            "key_events": [k.to_dict() for k in self.key_events],
            "other_event_types": self.other_event_types,
            "other_features": self.other_features,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Vocabulary:
        """Rebuild a vocabulary written by :meth:`to_dict`."""
        return cls(
            tuple(str(t) for t in data.get("event_types") or ()),  # type: ignore[attr-defined]
            tuple(str(f) for f in data.get("features") or ()),  # type: ignore[attr-defined]
            tuple(KeyEvent.from_dict(k) for k in data.get("key_events") or ()),  # type: ignore[attr-defined]
            bool(data.get("other_event_types", False)),
            bool(data.get("other_features", False)),
        )


@dataclass(frozen=True)
class FeatureSet:
    """A declared, typed, versioned set of snapshot features: one row per entity and timestamp.

    Attributes:
        features: the features, in column order.
        vocabulary: the event types, product features and key events the set counts one by
            one; snapshots of this set are built for exactly these.
        horizon_days: label horizon of the snapshots the set was declared for.
        grace_days: churn grace gap of those labels.
        entity: the entity column.
        timestamp: the as-of column (a row uses only data stamped strictly before it).
        version: the version of the feature definitions.
    """

    features: tuple[FeatureSpec, ...]
    vocabulary: Vocabulary
    horizon_days: int
    grace_days: int
    entity: str = ENTITY_COLUMN
    timestamp: str = TIMESTAMP_COLUMN
    version: int = FEATURE_SET_VERSION

    @property
    def names(self) -> list[str]:
        """Feature names, in order."""
        return [f.name for f in self.features]

    def select(self, names: Sequence[str]) -> FeatureSet:
        """The same declaration restricted to ``names``, in that order.

        Raises:
            KeyError: a name the set does not declare.
        """
        by_name = {f.name: f for f in self.features}
        if missing := [n for n in names if n not in by_name]:
            raise KeyError(f"feature(s) {missing} are not declared in the feature set")
        chosen = tuple(by_name[n] for n in names)
        return FeatureSet(chosen, self.vocabulary, self.horizon_days, self.grace_days,
                          self.entity, self.timestamp, self.version)  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        """The declaration as plain JSON data."""
        return {
            "version": self.version,
            "entity": self.entity,
            "timestamp": self.timestamp,
            "horizon_days": self.horizon_days,
            "grace_days": self.grace_days,
            "vocabulary": self.vocabulary.to_dict(),
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FeatureSet:
        """Rebuild a declaration written by :meth:`to_dict`."""
        return cls(
            features=tuple(FeatureSpec.from_dict(f) for f in data["features"]),  # type: ignore[attr-defined]
            vocabulary=_vocabulary(data),
            horizon_days=int(data["horizon_days"]),  # type: ignore[call-overload]
            grace_days=int(data["grace_days"]),  # type: ignore[call-overload]
            entity=str(data["entity"]),
            timestamp=str(data["timestamp"]),
            version=int(data["version"]),  # type: ignore[call-overload]
        )


def _vocabulary(data: Mapping[str, object]) -> Vocabulary:
    """A set's vocabulary; sets declared before it existed named their product features only."""
    if "vocabulary" in data:
        return Vocabulary.from_dict(data["vocabulary"])  # type: ignore[arg-type]
    return Vocabulary(features=tuple(str(k) for k in data.get("key_features") or ()))  # type: ignore[attr-defined]
