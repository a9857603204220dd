"""Alert rules and the webhooks that receive alerts (the ``[alerts]`` table of ``vitals.toml``).

Example::

    [[alerts.rules]]
    name = "fell-to-poor"
    kind = "band_drop"
    to = "poor"
    severity = "critical"

    [[alerts.rules]]
    name = "big-fall"
    kind = "score_drop"
    points = 15
    days = 30

    [[alerts.webhooks]]
    url = "https://hooks.example.com/vitals"
    secret = "a long random string shared with the receiver"
    rules = ["fell-to-poor"]

A rule fires when its condition starts to hold at a scored date: it held not at the subject's
previous scored date, and holds now. Re-evaluating the same date never raises the same alert twice.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

RiskDays = Literal[30, 90, 180, 365]
Severity = Literal["info", "warning", "critical"]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="unique among the rules: letters, digits and _ . : -",
    )
    severity: Severity = "warning"


class BandDropRule(_Rule):
    """An account's band falls (good -> average or poor, average -> poor), optionally only to
    the band ``to``."""

    kind: Literal["band_drop"]
    to: Literal["average", "poor"] | None = None


class ScoreDropRule(_Rule):
    """An account's health score falls by at least ``points`` below its highest score of the
    ``days`` days before."""

    kind: Literal["score_drop"]
    points: float = Field(gt=0, le=100)
    days: int = Field(gt=0, le=3650)


class RiskAboveRule(_Rule):
    """An account's risk of churning within ``days`` days (0..1) reaches ``threshold``: it was
    below it or unknown at the previous scored date, and is at or above it now."""

    kind: Literal["risk_above"]
    days: RiskDays
    threshold: float = Field(gt=0, le=1)


class ParentRevenueRule(_Rule):
    """A parent's revenue at risk (its roll-up with ``weighting``) rises above ``amount``: it was
    at or below it or unknown at the previous scored date, and is above it now."""

    kind: Literal["parent_revenue_at_risk"]
    amount: float = Field(ge=0)
    weighting: Literal["count", "contract_value"] = "contract_value"


AccountRule = BandDropRule | ScoreDropRule | RiskAboveRule
AlertRule = Annotated[AccountRule | ParentRevenueRule, Field(discriminator="kind")]


class WebhookSettings(BaseModel):
    """A receiver of alerts: each alert is POSTed as JSON, signed with ``secret`` (HMAC-SHA256),
    and retried with exponential backoff (``backoff_seconds``, doubling) until it is accepted or
    ``max_attempts`` attempts have failed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://[^\s/?#]+", max_length=2000)
    secret: SecretStr = Field(min_length=16, description="HMAC key shared with the receiver")
    rules: list[str] | None = Field(default=None, description="only these rules (default: all)")
    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff_seconds: float = Field(default=1.0, gt=0, le=86_400)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)


class AlertSettings(BaseModel):
    """The alert rules and the webhooks alerts are delivered to."""

    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule] = Field(default_factory=list)
    webhooks: list[WebhookSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AlertSettings:
        names = [r.name for r in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"alert rule names must be unique, repeated: {repeated}")
        urls = [w.url for w in self.webhooks]
        doubled = sorted({u for u in urls if urls.count(u) > 1})
        if doubled:
            raise ValueError(f"webhook urls must be unique, repeated: {doubled}")
        for webhook in self.webhooks:
            unknown = sorted(set(webhook.rules or ()) - set(names))
            if unknown:
                raise ValueError(f"webhook {webhook.url} names unknown alert rules: {unknown}")
        return self

    def webhooks_for(self, rule: str) -> list[WebhookSettings]:
        """The webhooks that receive alerts of the rule named ``rule``."""
        return [w for w in self.webhooks if w.rules is None or rule in w.rules]
