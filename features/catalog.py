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
    "engagement", "usage", "trend", "feedback", "support", "financial", "lifecycle", "attribute"
]
FeatureKind = Literal["numeric", "categorical"]
ENTITY_COLUMN = "account_id"
TIMESTAMP_COLUMN = "as_of"
# Bump when a feature's definition changes meaning, so that a model trained on the old one says so.
FEATURE_SET_VERSION = 1
_DTYPES: dict[str, str] = {"numeric": "float64", "categorical": "string"}


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
class FeatureSet:
    """A declared, typed, versioned set of snapshot features: one row per entity and timestamp.

    Attributes:
        features: the features, in column order.
        key_features: the product features (the events' ``feature`` values) whose per-user use
            the set holds; snapshots of this set are built for exactly these.
        horizon_days: label horizon of the snapshots the set was declared for.
        grace_days: churn grace gap of those labels.
        entity: the entity column.
        timestamp: the as-of column (a row uses only data stamped strictly before it).
        version: the version of the feature definitions.
    """

    features: tuple[FeatureSpec, ...]
    key_features: tuple[str, ...]
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
        return FeatureSet(chosen, self.key_features, self.horizon_days, self.grace_days,
                          self.entity, self.timestamp, self.version)  # fmt: skip

    def to_dict(self) -> dict[str, object]:
        """The declaration as plain JSON data."""
        return {
            "version": self.version,
            "entity": self.entity,
            "timestamp": self.timestamp,
            "horizon_days": self.horizon_days,
            "grace_days": self.grace_days,
            "key_features": list(self.key_features),
            "features": [f.to_dict() for f in self.features],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FeatureSet:
        """Rebuild a declaration written by :meth:`to_dict`."""
        return cls(
            features=tuple(FeatureSpec.from_dict(f) for f in data["features"]),  # type: ignore[attr-defined]
            key_features=tuple(str(k) for k in data["key_features"]),  # type: ignore[attr-defined]
            horizon_days=int(data["horizon_days"]),  # type: ignore[call-overload]
            grace_days=int(data["grace_days"]),  # type: ignore[call-overload]
            entity=str(data["entity"]),
            timestamp=str(data["timestamp"]),
            version=int(data["version"]),  # type: ignore[call-overload]
        )
