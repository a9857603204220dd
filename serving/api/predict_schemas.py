"""Request and response models of ``POST /v1/predict`` (what the OpenAPI schema documents)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from vitals.serving.api.schemas import AccountId, Band, CurvePoint, Reason

FeatureValue = Annotated[float, Field(allow_inf_nan=False, strict=True)] | StrictStr | None

MAX_BATCH = 10_000

_FEATURES_EXAMPLE = {
    "segment": "mid_market",
    "tenure_days": 412,
    "active_users_30d": 38,
    "logins_30d": 214,
    "attr_plan": "growth",
    "nps_latest": None,
}


class AccountInput(BaseModel):
    """One account to score: its raw feature values, or only its id to use the stored ones."""

    model_config = ConfigDict(extra="forbid")

    account_id: AccountId
    features: dict[str, FeatureValue] | None = Field(
        default=None,
        description="``segment``, ``tenure_days`` and every feature the model reads (null for "
        "missing; numbers finite, categorical values strings). Omit to score the account's "
        "latest stored feature vector.",
        examples=[_FEATURES_EXAMPLE],
    )


class PredictRequest(BaseModel):
    """Accounts to score, at most 10,000."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"accounts": [{"account_id": "A000123"}]},
                {"accounts": [{"account_id": "new-1", "features": _FEATURES_EXAMPLE}]},
            ]
        },
    )

    accounts: list[AccountInput] = Field(min_length=1, max_length=MAX_BATCH)


class PredictResult(BaseModel):
    """The score of one account, or why it has none (``status`` 404 or 409)."""

    account_id: str
    status: Literal[200, 404, 409] = Field(
        description="200 scored; 404 no stored features for this id; 409 the stored features "
        "do not fit the loaded model"
    )
    source: Literal["request", "stored"] | None = None
    features_as_of: date | None = Field(default=None, description="date of stored features")
    profile: str | None = None
    churn_probability: float | None = Field(default=None, ge=0, le=1)
    health_score: float | None = Field(default=None, ge=0, le=100)
    band: Band | None = None
    baseline_score: float | None = None
    reasons: list[Reason] = Field(default_factory=list)
    curve: list[CurvePoint] = Field(
        default_factory=list, description="risk within 30, 90, 180 and 365 days"
    )
    renewal_risk: float | None = Field(
        default=None, description="risk of being gone by the next renewal"
    )
    error: str | None = None


class PredictResponse(BaseModel):
    """Per-account results in request order, and the model version that scored all of them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "vitals-health/3",
                    "results": [
                        {
                            "account_id": "A000123",
                            "status": 200,
                            "source": "stored",
                            "features_as_of": "2026-01-01",
                            "profile": "mid_market",
                            "churn_probability": 0.18,
                            "health_score": 82.0,
                            "band": "average",
                            "baseline_score": 88.5,
                            "error": None,
                            "reasons": [
                                {
                                    "rank": 1,
                                    "measure": "Product usage",
                                    "feature": "active_users_30d",
                                    "label": "Active users",
                                    "unit": "users",
                                    "value": 38.0,
                                    "previous_value": 52.0,
                                    "exact_value": 38.0,
                                    "exact_previous_value": 52.0,
                                    "direction": "lowers",
                                    "health_points": -6.2,
                                    "log_odds": 0.31,
                                    "sentence": "Product usage: Active users fell from 52 to 38 "
                                    "over the last 30 days (-6 health points)",
                                    "breakdown": [],
                                }
                            ],
                        },
                        {
                            "account_id": "nope",
                            "status": 404,
                            "reasons": [],
                            "error": "no stored features for account 'nope'",
                        },
                    ],
                }
            ]
        }
    )

    model_version: str
    results: list[PredictResult]
