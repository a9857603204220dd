"""Feature declarations: what each feature means, apart from how it is computed.

Later stages read this catalog to name features in plain language ("Active users per seat fell
from 0.62 to 0.31 over 30 days") and to know which direction is healthy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Family = Literal[
    "engagement", "usage", "trend", "feedback", "support", "financial", "lifecycle", "attribute"
]
FeatureKind = Literal["numeric", "categorical"]


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

    def to_dict(self) -> dict[str, object]:
        """The spec as a plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FeatureSpec:
        """Rebuild a spec written by :meth:`to_dict`."""
        return cls(**data)  # type: ignore[arg-type]
