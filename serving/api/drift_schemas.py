"""Response models of ``GET /v1/model/drift``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from vitals.config.drift import DriftSettings

Status = Literal["ok", "warning", "alert"]


class DriftBin(BaseModel):
    """One bin of a feature: its share of training-window rows and of the latest scored rows."""

    bin: str = Field(examples=["(3, 7]"], description="value range, level, other or missing")
    expected: float = Field(ge=0, le=1, description="share of training-window rows")
    actual: float = Field(ge=0, le=1, description="share of the latest scored rows")


class FeaturePsi(BaseModel):
    """The population stability index of one feature."""

    feature: str = Field(examples=["logins_30d"])
    kind: Literal["numeric", "categorical"]
    psi: float | None = Field(description="population stability index (null without rows)")
    status: Status = Field(description="ok below psi_warn, warning from it, alert from psi_alert")
    bins: list[DriftBin] | None = Field(default=None, description="with ?bins=true")


class FeatureDriftPublic(BaseModel):
    """Feature drift between the training window and the latest scored date."""

    available: bool
    reason: str | None = Field(description="why feature drift is unavailable")
    as_of: date | None = Field(description="the latest scored date")
    rows: int = Field(ge=0, description="accounts whose stored feature vectors were compared")
    reference_rows: int | None = Field(description="training-window rows of the reference")
    not_stored: list[str] = Field(description="model features the stored vectors lack")
    features: list[FeaturePsi] = Field(description="largest PSI first")


class ProfileCalibration(BaseModel):
    """Predicted against observed churn over matured scores."""

    count: int = Field(ge=1, description="matured scores with a known outcome")
    predicted: float = Field(ge=0, le=1, description="mean predicted churn probability")
    observed: float = Field(ge=0, le=1, description="share that churned within the horizon")
    gap: float = Field(ge=-1, le=1, description="predicted minus observed")
    ece: float = Field(ge=0, le=1, description="expected calibration error, 10 equal-count bins")
    status: Status = Field(description="warning when |gap| passes calibration_gap")


class CalibrationDriftPublic(BaseModel):
    """Calibration drift, as last computed with the data's outcomes."""

    available: bool
    reason: str | None = Field(description="why calibration drift is unavailable")
    computed_at: datetime | None = Field(description="when it was computed")
    horizon_days: int | None = Field(description="horizon of the compared churn probability")
    dates: list[date] = Field(description="the matured scored dates compared")
    unmatched: int = Field(ge=0, description="stored scores without a known outcome")
    overall: ProfileCalibration | None
    profiles: dict[str, ProfileCalibration] = Field(description="by health profile")


class DriftPublic(BaseModel):
    """Feature drift and calibration drift of the served model, with the limits they pass."""

    model_version: str = Field(examples=["vitals-health/3"])
    computed_at: datetime
    status: Literal["ok", "warning", "alert", "unavailable"] = Field(
        description="the worst finding; unavailable when neither part could be computed"
    )
    warnings: list[str] = Field(
        examples=[["feature logins_30d has shifted since training: PSI 0.312 >= 0.25"]],
        description="one sentence per limit passed",
    )
    limits: DriftSettings
    features: FeatureDriftPublic
    calibration: CalibrationDriftPublic
