"""The one typed settings object, read from ``vitals.toml`` and ``VITALS_*`` variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "VITALS_CONFIG"
DEFAULT_CONFIG_FILE = "vitals.toml"


class BandThresholds(BaseModel):
    """Health-score cut-offs of a profile: good at or above ``good``, poor below ``poor``."""

    good: float = Field(ge=0, le=100)
    poor: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> BandThresholds:
        if self.poor > self.good:
            raise ValueError(
                f"band thresholds need poor <= good, got poor={self.poor} good={self.good}"
            )
        return self


class ProfileConfig(BaseModel):
    """A health profile: which accounts it takes, and how much data its own model needs.

    An account is routed to the first profile whose rules match: ``max_tenure_days`` (tenure
    strictly below it, e.g. an onboarding profile) and ``segments`` (its ``segment`` is listed).
    """

    name: str
    segments: list[str] = Field(default_factory=list)
    max_tenure_days: int | None = Field(default=None, gt=0)
    min_train_snapshots: int = Field(default=2000, ge=1)
    min_train_churners: int = Field(default=100, ge=1)
    bands: BandThresholds | None = None


def _default_profiles() -> list[ProfileConfig]:
    return [
        ProfileConfig(name="onboarding", max_tenure_days=90),
        ProfileConfig(name="enterprise", segments=["enterprise"]),
        ProfileConfig(name="mid_market", segments=["mid_market"]),
        ProfileConfig(name="smb", segments=["smb"]),
    ]


class Settings(BaseSettings):
    """Everything configurable in Vitals. Building it has no side effects (no folders, no URIs)."""

    model_config = SettingsConfigDict(
        env_prefix="VITALS_", env_nested_delimiter="__", extra="ignore"
    )

    horizon_days: int = Field(default=90, gt=0, description="churn horizon of a label, in days")
    grace_days: int = Field(
        default=30, ge=0, description="gap after a subscription ends before it counts as churn"
    )
    profiles: list[ProfileConfig] = Field(default_factory=_default_profiles)
    default_profile: str = Field(
        default="default", description="profile of accounts no rule matches"
    )
    band_weights: dict[str, float] = Field(
        default_factory=lambda: {"good": 1.0, "average": 0.5, "poor": 0.0},
        description="health of a parent = sum of child shares per band x these weights x 100",
    )
    database_url: str = Field(default="sqlite:///vitals.db")
    seed: int = 7

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: arguments, then ``VITALS_*`` variables, then the TOML file."""
        toml_file = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @model_validator(mode="after")
    def _unique_profiles(self) -> Settings:
        names = [p.name for p in self.profiles]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"profile names must be unique, repeated: {duplicates}")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; ``get_settings.cache_clear()`` re-reads them)."""
    return Settings()
