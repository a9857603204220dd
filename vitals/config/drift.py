"""Settings of drift monitoring: how features are binned, and the limits that raise a warning."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class DriftSettings(BaseModel):
    """How feature drift (PSI) and calibration drift are measured, and when they warn.

    The population stability index compares a feature's distribution over the latest scored date
    with the training window's: below ``psi_warn`` it is stable, from ``psi_warn`` it has moved
    (a warning), from ``psi_alert`` it has shifted (an alert). The usual rule of thumb is 0.1 and
    0.25. Calibration drift is the gap between the mean predicted churn and the churn observed
    once labels mature, per health profile.
    """

    bins: int = Field(
        default=10, ge=2, le=100, description="quantile bins of a numeric feature (plus missing)"
    )
    max_levels: int = Field(
        default=20,
        ge=1,
        le=200,
        description="most frequent levels of a categorical feature kept (the rest: other)",
    )
    psi_warn: float = Field(default=0.1, gt=0, description="PSI from which a feature warns")
    psi_alert: float = Field(default=0.25, gt=0, description="PSI from which a feature alerts")
    calibration_gap: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="largest allowed |mean predicted - observed churn| of a profile",
    )
    min_calibration_rows: int = Field(
        default=50,
        ge=1,
        description="matured scores a profile needs before its calibration gap can warn",
    )
    calibration_window_days: int = Field(
        default=91,
        ge=1,
        description="matured scored dates within this many days of the newest one are compared",
    )
    cache_seconds: float = Field(
        default=300.0,
        ge=0,
        description="how long the API reuses a computed feature drift of the same scored date",
    )

    @model_validator(mode="after")
    def _ordered(self) -> DriftSettings:
        if self.psi_alert < self.psi_warn:
            raise ValueError(
                f"drift limits need psi_warn <= psi_alert, got {self.psi_warn} > {self.psi_alert}"
            )
        return self
