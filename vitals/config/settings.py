"""The one typed settings object, read from ``vitals.toml`` and ``VITALS_*`` variables."""

from __future__ import annotations

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vitals.config.alerts import AlertSettings
from vitals.config.drift import DriftSettings

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


def _default_lightgbm() -> dict[str, float | int | str]:
    return {
        "learning_rate": 0.05,
        "num_leaves": 15,
        "min_data_in_leaf": 300,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "cat_smooth": 10.0,
        # categorical splits: a level joins a split side only with enough rows behind it, and at
        # most 16 levels go to one side, so an attribute with many values (country, plan name)
        # cannot memorise small groups
        "min_data_per_group": 200,
        "cat_l2": 10.0,
        "max_cat_threshold": 16,
        "scale_pos_weight": 1.0,
    }


class TrainingSettings(BaseModel):
    """How ``vitals train`` splits snapshots by time, fits boosters and tracks runs.

    Windows are laid out backwards from the last labelled snapshot date: the test window holds
    the last ``test_days`` of labelled ``as_of`` dates, the calibration (and validation) window the
    ``calibration_days`` before it, the training window everything earlier; consecutive windows
    are ``gap_days`` apart (default: the horizon), so no label of a window reaches into the next.
    """

    snapshot_every: str = Field(
        default="14d", description="step between snapshot dates when training builds snapshots"
    )
    warmup_days: int = Field(
        default=90, ge=0, description="skip snapshots this close to the start of the event history"
    )
    test_days: int = Field(default=91, gt=0, description="length of the test window")
    calibration_days: int = Field(
        default=91, gt=0, description="length of the calibration / validation window"
    )
    gap_days: int | None = Field(
        default=None, ge=0, description="gap between windows; None means the label horizon"
    )
    test_end: date | None = Field(
        default=None, description="last as_of of the test window; None means the last labelled"
    )
    min_train_churners: int = Field(
        default=50, ge=1, description="churners the training window needs for any model at all"
    )
    min_sentiment_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="share of training accounts with a CSM rating below which sentiment is unused",
    )
    min_calibration_churners: int = Field(
        default=20, ge=1, description="below this a profile shares the pooled calibrator"
    )
    calibration_folds: int = Field(
        default=5, ge=2, description="folds used to choose isotonic or sigmoid calibration"
    )
    profile_init: Literal["pooled", "scratch"] = Field(
        default="pooled",
        description="own profile boosters continue from the pooled booster, or start from scratch",
    )
    lightgbm: dict[str, float | int | str] = Field(
        default_factory=_default_lightgbm, description="LightGBM parameters used without tuning"
    )
    check_attributes: bool = Field(
        default=True,
        description="leave out categorical account attributes whose removal does not lower the "
        "validation AUC (they would memorise)",
    )
    num_boost_round: int = Field(default=2000, gt=0)
    early_stopping_rounds: int = Field(default=100, gt=0)
    num_threads: int = Field(default=1, gt=0, description="LightGBM threads (fixed: determinism)")
    trials: int = Field(default=0, ge=0, description="Optuna trials per booster; 0 = defaults")
    timeout_s: float | None = Field(
        default=None, gt=0, description="tuning time budget for the whole run, in seconds"
    )
    experiment: str = Field(default="vitals", description="MLflow experiment name")
    registered_model: str = Field(default="vitals-health", description="MLflow registry name")


class KeyEventSettings(BaseModel):
    """A usage metric the customer names: the event types or product features it counts."""

    name: str = Field(min_length=1, description="the metric's name, used in labels")
    event_types: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list, description="events' product features")
    higher_is_better: bool = True

    @model_validator(mode="after")
    def _counts_something(self) -> KeyEventSettings:
        if not self.event_types and not self.features:
            raise ValueError(f"key event {self.name!r} names no event_types and no features")
        return self


class FeatureSettings(BaseModel):
    """Which of the customer's own event types and product features are counted one by one."""

    max_event_types: int = Field(
        default=40, ge=0, description="most used event types counted each (the rest: other)"
    )
    max_product_features: int = Field(
        default=40, ge=0, description="most used product features counted each (the rest: other)"
    )
    key_events: list[KeyEventSettings] = Field(default_factory=list)


class MlflowSettings(BaseModel):
    """Where MLflow tracks runs and registers models (``MLFLOW_TRACKING_URI`` overrides both)."""

    tracking_uri: str | None = Field(
        default=None,
        description="tracking store, e.g. http://127.0.0.1:5000; None: sqlite mlruns/mlflow.db",
    )
    registry_uri: str | None = Field(
        default=None, description="model registry; None: the tracking store"
    )


class ServingSettings(BaseModel):
    """How ``vitals serve`` runs the API: which model it loads, limits, and its caches."""

    model: str = Field(
        default="champion",
        description="model to serve: an alias of vitals-health, an MLflow URI or a model directory",
    )
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes")
    max_batch: int = Field(default=10_000, ge=1, description="accounts per predict request")
    max_body_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="larger request bodies get 413"
    )
    key_cache_seconds: float = Field(
        default=30.0, ge=0, description="how long a verified API key is trusted without a lookup"
    )
    vector_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="how long an account's stored feature vector is reused by predict-by-id "
        "(after a batch run, the previous vector may serve that long; 0 reads it every time)",
    )


class ConsoleSettings(BaseModel):
    """The CS console's web pages (``/console``): sessions and page sizes."""

    session_hours: float = Field(
        default=12.0, gt=0, description="how long a sign-in lasts before the console asks again"
    )
    page_size: int = Field(default=50, ge=1, le=500, description="worklist rows per page")


class IngestSettings(BaseModel):
    """Where ingested rows are kept, and how the re-scoring worker keeps up with them."""

    data_dir: str | None = Field(
        default=None,
        description="the data directory that ingested rows extend (``vitals serve --data``)",
    )
    store_dir: str = Field(
        default="ingested",
        description="folder of the append-only store of ingested rows, beside the health store",
    )
    max_rows: int = Field(default=100_000, ge=1, description="rows per ingested batch")
    queue_batches: int = Field(
        default=1_000,
        ge=1,
        description="batches waiting to be re-scored before ingestion answers 503 (back-pressure)",
    )
    max_lag_seconds: float = Field(
        default=30.0,
        gt=0,
        description="age of the oldest batch waiting to be re-scored before ingestion answers 503",
    )
    rescore_in_server: bool = Field(
        default=True,
        description="run the re-scoring worker inside the server (off: run `vitals worker`)",
    )
    rescore_every_seconds: float = Field(
        default=0.2, gt=0, description="how often the worker looks for new batches"
    )
    compact_after: int = Field(
        default=1_000,
        ge=0,
        description="re-scored batches the worker folds into one range of the store once that "
        "many wait (0: never)",
    )


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
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    scorecard: str | None = Field(
        default=None,
        description="scorecard TOML file scored beside the model (relative to the working "
        "directory); None: the built-in default scorecard",
    )
    playbook: str | None = Field(
        default=None,
        description="playbook TOML file of suggested next steps (see vitals.config.playbooks); "
        "None: the built-in default playbook",
    )

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
