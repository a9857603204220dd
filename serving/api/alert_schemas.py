"""Response models of ``/v1/alerts``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

AlertKind = Literal["band_drop", "score_drop", "risk_above", "parent_revenue_at_risk"]


class AlertPublic(BaseModel):
    """A raised alert: which rule fired for which account or parent, at which scored date."""

    id: int
    rule: str = Field(examples=["fell-to-poor"], description="the rule's name in vitals.toml")
    kind: AlertKind
    subject_kind: Literal["account", "parent"]
    subject_id: str = Field(examples=["A000123"])
    as_of: date = Field(description="the scored date the rule fired at")
    model_version: str
    severity: Literal["info", "warning", "critical"]
    message: str = Field(examples=["A000123: band fell from average to poor (health 52.0 -> 31.5)"])
    created_at: datetime
    acknowledged: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(description="the name (or id) of the acknowledging key")
    details: dict[str, Any] = Field(
        description="``rule`` (its parameters), ``reference_date``, ``before`` and ``after`` "
        "(the values compared), ``reasons`` with ``reasons_kind`` (``change``: why the score "
        "moved since the reference date, in health points adding up to the change; "
        "``current``: the stored reasons of the new score), ``change`` (the explained change, "
        "when a model was at hand) and, for parents, ``pulling_down``"
    )


class AlertPage(BaseModel):
    """Alerts, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[AlertPublic]
    next_cursor: str | None
