"""Request and response models of the API (what the OpenAPI schema documents)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from vitals.serving.api.people_schemas import BandOverrideView

Band = Literal["good", "average", "poor"]
Weighting = Literal["count", "contract_value"]
AccountId = Annotated[str, Field(min_length=1, max_length=128, examples=["A000123"])]
SortKey = Literal[
    "health_score",
    "revenue_at_risk",
    "churn_probability",
    "score_change",
    "risk_30d",
    "risk_90d",
    "risk_180d",
    "risk_365d",
    "renewal_revenue_at_risk",
]


class Problem(BaseModel):
    """An error message."""

    detail: str = Field(examples=["missing API key: send X-API-Key or Authorization: Bearer"])


class ReasonPart(BaseModel):
    """One feature under a reason's measure, in the same health points."""

    feature: str = Field(examples=["active_users_30d"])
    label: str = Field(examples=["Active users"])
    unit: str | None = Field(default=None, examples=["users"])
    value: float | str | None = Field(default=None, description="rounded for reading")
    previous_value: float | str | None = Field(
        default=None, description="the window before (current reasons) or unused"
    )
    value_then: float | str | None = Field(default=None, description="change reasons only")
    health_points: float
    sentence: str


class Reason(BaseModel):
    """One reason for a score: a measure, in health points relative to the baseline score.

    Its points are the sum of the features in ``breakdown``; ``feature`` is the one that moved
    most, and the sentence is built from it.
    """

    rank: int = Field(ge=1, examples=[1])
    measure: str | None = Field(default=None, examples=["Product usage"])
    feature: str = Field(examples=["active_users_30d"])
    label: str = Field(examples=["Active users"])
    unit: str | None = Field(default=None, examples=["users"])
    value: float | str | None = Field(examples=[38.0], description="rounded for reading")
    previous_value: float | str | None = Field(
        default=None, examples=[52.0], description="rounded for reading"
    )
    exact_value: float | str | None = Field(default=None, description="as computed")
    exact_previous_value: float | str | None = Field(default=None, description="as computed")
    direction: Literal["raises", "lowers"] = Field(examples=["lowers"])
    health_points: float = Field(examples=[-6.2])
    log_odds: float | None = Field(default=None, examples=[0.31])
    sentence: str | None = Field(
        default=None,
        examples=["Product usage: Active users fell from 52 to 38 over the last 30 days (-6 "
                  "health points)"],
    )  # fmt: skip
    breakdown: list[ReasonPart] = Field(default_factory=list)


class NextStep(BaseModel):
    """A suggested action of the playbook, with the reasons that triggered it."""

    id: str | None = Field(examples=["license-utilization"])
    title: str | None = Field(examples=["Unused seats"])
    action: str = Field(
        examples=["License utilization fell: offer an enablement session to the inactive seats"]
    )
    priority: int
    direction: str = Field(description="'lowers' (the reason costs health) or 'raises'")
    health_points: float = Field(description="points of the costliest triggering reason")
    reasons: list[dict[str, Any]] = Field(description="rank, measure, feature, health_points")


class ScorecardView(BaseModel):
    """The rule scorecard's score beside the model's: its own points per measure explain it."""

    score: float = Field(ge=0, le=100, examples=[62.5])
    band: str | None = Field(description="by the same thresholds as the model's band")
    points: list[dict[str, Any]] = Field(
        default_factory=list,
        description="per measure: measure, feature, value, points, weight, contribution (the "
        "contributions add up to the score)",
    )


class CurvePoint(BaseModel):
    """The account's risk of churning within ``days`` days (and so its survival to then)."""

    days: int
    risk: float = Field(ge=0, le=1)
    survival: float = Field(ge=0, le=1)


class AccountSummary(BaseModel):
    """An account's latest stored health (whether) and risk (when).

    ``health_score`` does not move with the calendar; ``churn_probability`` is the risk within
    the model's horizon, and ``curve`` the risk within 30, 90, 180 and 365 days (empty for scores
    of a model saved before the curve).
    """

    account_id: str
    parent_id: str | None
    segment: str | None
    profile: str
    as_of: date
    model_version: str
    health_score: float
    band: str
    churn_probability: float
    contract_value: float | None
    revenue_at_risk: float | None
    score_change: float | None = Field(
        default=None, description="health points gained since the reference date (worklist)"
    )
    reasons: list[Reason]
    curve: list[CurvePoint] = Field(default_factory=list)
    renewal_risk: float | None = Field(
        default=None, description="risk of being gone by the next renewal"
    )
    renewal_revenue_at_risk: float | None = Field(
        default=None, description="renewal_risk x contract value"
    )
    days_to_renewal: float | None = Field(default=None, description="days to the next renewal")
    risk_context: list[str] = Field(
        default_factory=list,
        description="the renewal and the risk by horizon in words: context for the risk, never a "
        "reason for health",
    )
    scorecard: ScorecardView | None = Field(
        default=None, description="the configured rule scorecard's score, band and points"
    )
    next_steps: list[NextStep] = Field(
        default_factory=list,
        description="what to do about the reasons, from the playbook (account detail only)",
    )
    override: BandOverrideView | None = Field(
        default=None,
        description="a person's band for the account while in force (the score stays the model's)",
    )


class WorklistPage(BaseModel):
    """One page of the worklist; pass ``next_cursor`` back as ``cursor`` for the next one."""

    as_of: date | None = Field(description="the scored date listed (the latest by default)")
    reference_date: date | None = Field(
        default=None, description="the date score changes are measured from"
    )
    items: list[AccountSummary]
    next_cursor: str | None


class HistoryPoint(BaseModel):
    """A stored score of the account."""

    as_of: date
    health_score: float
    band: str
    churn_probability: float
    revenue_at_risk: float | None
    model_version: str


class ChangeReason(BaseModel):
    """One share of a score change (a measure, the profile, or the other measures together);
    the shares add up to the change, and a feature that did not move has no share."""

    rank: int
    component: str = Field(description="a measure, 'profile' or 'other_measures'")
    measure: str | None = None
    feature: str | None = Field(default=None, description="the measure's feature that moved most")
    label: str
    unit: str | None = None
    value_then: float | str | None = Field(description="rounded for reading")
    value_now: float | str | None = Field(description="rounded for reading")
    exact_value_then: float | str | None = None
    exact_value_now: float | str | None = None
    health_points: float
    sentence: str
    breakdown: list[ReasonPart] = Field(default_factory=list)


class RiskReason(BaseModel):
    """One driver of the risk within the model's horizon, in percentage points of risk. Unlike
    health reasons, timing (days to renewal, tenure) may be one."""

    rank: int = Field(ge=1)
    measure: str | None = None
    feature: str
    label: str
    value: float | str | None = Field(description="rounded for reading")
    previous_value: float | str | None = None
    direction: Literal["raises", "lowers"]
    risk_points: float = Field(examples=[3.1])
    sentence: str | None = Field(
        default=None,
        examples=["Contract and billing: Days to renewal is 20 days (+3 points of risk)"],
    )


class RiskChangeReason(BaseModel):
    """One share of the change of risk within the horizon, in percentage points; the shares add
    up to the change."""

    rank: int
    component: str = Field(description="a measure, 'profile' or 'other_measures'")
    measure: str | None = None
    feature: str | None = None
    label: str
    value_then: float | str | None
    value_now: float | str | None
    risk_points: float
    sentence: str


class ScoreChange(BaseModel):
    """How the score moved since the reference date, and why."""

    since_days: int
    reference_date: date | None = Field(description="newest scored date at least N days back")
    score_then: float | None
    score_now: float
    score_change: float | None
    band_then: str | None
    band_now: str
    explained: bool = Field(
        description="reasons computed by the loaded model from the stored feature vectors of "
        "both dates (they then add up to explained_change)"
    )
    model_version: str | None = None
    features_then_as_of: date | None = None
    features_now_as_of: date | None = None
    explained_change: float | None = Field(
        default=None, description="the loaded model's score change between the two vectors"
    )
    reasons: list[ChangeReason] = Field(default_factory=list)
    risk_change: float | None = Field(
        default=None, description="the loaded model's change of risk within the horizon, x 100"
    )
    risk_reasons: list[RiskChangeReason] = Field(default_factory=list)
    note: str | None = None


class ChildEffect(BaseModel):
    """What one direct child did to its parent's health, in the parent's health points."""

    child_id: str
    band_moved: float = Field(description="its accounts' bands moved")
    weight_moved: float = Field(description="its accounts' share of the parent's weight moved")
    joined: float = Field(description="accounts scored now but not then")
    left: float = Field(description="accounts scored then but not now")
    health_points: float = Field(description="the sum of the four")
    reasons: list[ChangeReason] = Field(
        default_factory=list,
        description="for the children that moved most, their own score change explained",
    )


class ParentChange(BaseModel):
    """A parent's health change since the reference date, split into its children's effects.

    The children's ``health_points`` add up to ``health_change``.
    """

    weighting: Weighting
    reference_date: date | None
    as_of: date
    health_then: float | None
    health_now: float | None
    health_change: float | None
    children: list[ChildEffect]


class AccountDetail(BaseModel):
    """Latest health, stored history and the change since ``since``; for a parent, also its
    health change split into its children's moves (``account`` and ``change`` are null for a
    parent without a score of its own)."""

    account: AccountSummary | None
    history: list[HistoryPoint]
    change: ScoreChange | None
    risk_reasons: list[RiskReason] = Field(
        default_factory=list,
        description="what drives the risk within the horizon now (from the stored features)",
    )
    parent_change: ParentChange | None = None


class ProfileInfo(BaseModel):
    """A health profile of the loaded model."""

    name: str
    pooled: bool
    band_good: float = Field(description="scores at or above are good")
    band_poor: float = Field(description="scores below are poor")


class ModelInfo(BaseModel):
    """The loaded model."""

    version: str = Field(examples=["vitals-health/3"])
    uri: str = Field(examples=["models:/vitals-health@champion"])
    loaded_at: datetime
    horizon_days: int
    n_features: int
    profiles: list[ProfileInfo]
    training_window: dict[str, Any] | None = Field(description="the time windows it was fit on")
    evaluation: dict[str, Any] | None = Field(
        description="overall test-window metrics from the training run's report, if found"
    )


class ReloadResult(BaseModel):
    """What ``POST /v1/model/reload`` did."""

    previous_version: str | None
    version: str
    changed: bool
    loaded_at: datetime


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Readiness: a model is loaded and the store answers."""

    status: Literal["ready", "not_ready"]
    model_version: str | None
    store: Literal["ok", "unreachable"]


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error codes answered with a :class:`Problem`."""
    meaning = {
        401: "missing, unknown or revoked API key",
        403: "the API key lacks the scope this endpoint needs",
        404: "no such account",
        409: "the stored data cannot answer this (e.g. a contract value missing for a weighting)",
        413: "request body too large",
        503: "no model loaded, or the health store cannot be reached",
    }
    return {c: {"model": Problem, "description": meaning[c]} for c in codes}
