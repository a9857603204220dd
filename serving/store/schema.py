"""Tables of the health store (SQLAlchemy 2 declarative models).

Live tables, read by the API:

* ``health_scores``: one scored snapshot per (account, as_of, model version), with its band,
  profile, contract value, revenue at risk, top reasons (JSON), and its risk curve (risk within
  30, 90, 180 and 365 days, risk by the next renewal and the revenue it puts at risk);
* ``parent_health``: one roll-up per (parent, as_of, model version, weighting), with the shares
  per band, revenue at risk, the children pulling it down and its reasons (JSON);
* ``scoring_runs``: what each ``score`` / ``backfill`` run did, and whether it completed.

A run first writes into the ``staged_*`` twins of the live tables, keyed by its run id, and then
publishes them in one transaction (:mod:`vitals.serving.store.writer`), so readers never see half a
run. Scorecard scores and CSM band overrides will be tables of their own beside ``health_scores``,
keyed the same way; nothing here assumes a score comes from the model only.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, MetaData, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 128
VERSION_LENGTH = 128
LAYOUT_ID_LENGTH = 32  # hex digest of the names

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere
JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the store; constraint names follow :data:`NAMING`."""

    metadata = MetaData(naming_convention=NAMING)


class ScoringRun(Base):
    """One ``score`` or ``backfill`` run: its model, dates and outcome."""

    __tablename__ = "scoring_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # score | backfill
    status: Mapped[str] = mapped_column(String(16))  # running | complete | failed
    model_uri: Mapped[str] = mapped_column(String(1000))
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    engine: Mapped[str] = mapped_column(String(16))
    first_as_of: Mapped[date] = mapped_column(Date)
    last_as_of: Mapped[date] = mapped_column(Date)
    n_dates: Mapped[int] = mapped_column(Integer)
    n_scores: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    error: Mapped[str | None] = mapped_column(String(2000), nullable=True)


class _ScoreColumns:
    """Columns of a scored snapshot, shared by the live and the staged table."""

    parent_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    segment: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True)
    profile: Mapped[str] = mapped_column(String(ID_LENGTH))
    pooled: Mapped[bool]
    churn_probability: Mapped[float] = mapped_column(Float)
    health_score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(16))
    baseline_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    contract_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    revenue_at_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    risk_30d: Mapped[float | None] = mapped_column(Float, nullable=True)
    risk_90d: Mapped[float | None] = mapped_column(Float, nullable=True)
    risk_180d: Mapped[float | None] = mapped_column(Float, nullable=True)
    risk_365d: Mapped[float | None] = mapped_column(Float, nullable=True)
    renewal_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    days_to_renewal: Mapped[float | None] = mapped_column(Float, nullable=True)
    renewal_revenue_at_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    scorecard_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    scorecard_band: Mapped[str | None] = mapped_column(String(16), nullable=True)
    scorecard_points: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, nullable=True)


class HealthScore(_ScoreColumns, Base):
    """A published scored snapshot of one account.

    ``reasons`` lists the top reasons, largest first: ``rank, feature, label, value,
    previous_value, health_points, sentence`` (health points relative to ``baseline_score``).
    """

    __tablename__ = "health_scores"
    __table_args__ = (
        Index("ix_health_scores_worklist", "as_of", "band", "health_score"),
        Index("ix_health_scores_risk", "as_of", "revenue_at_risk"),
        Index("ix_health_scores_parent", "parent_id", "as_of"),
    )

    account_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scoring_runs.id"), index=True)


class StagedHealthScore(_ScoreColumns, Base):
    """A scored snapshot written by a run that has not been published yet."""

    __tablename__ = "staged_health_scores"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))


class _RollUpColumns:
    """Columns of a parent roll-up, shared by the live and the staged table."""

    depth: Mapped[int] = mapped_column(Integer)
    own_usage: Mapped[bool]
    n_accounts: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    share_good: Mapped[float | None] = mapped_column(Float, nullable=True)
    share_average: Mapped[float | None] = mapped_column(Float, nullable=True)
    share_poor: Mapped[float | None] = mapped_column(Float, nullable=True)
    health: Mapped[float | None] = mapped_column(Float, nullable=True)
    contract_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    revenue_at_risk: Mapped[float | None] = mapped_column(Float, nullable=True)
    pulling_down: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    renewal_revenue_at_risk: Mapped[float | None] = mapped_column(Float, nullable=True)


class ParentHealth(_RollUpColumns, Base):
    """A published roll-up of a parent account's children (see :mod:`vitals.models.rollup`).

    ``pulling_down`` lists ``rank, child_id, child_health, health_points_lost``; ``reasons`` lists
    ``rank, feature, label, health_points``.
    """

    __tablename__ = "parent_health"
    __table_args__ = (Index("ix_parent_health_as_of", "as_of", "weighting", "health"),)

    parent_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH), primary_key=True)
    weighting: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scoring_runs.id"), index=True)


class StagedParentHealth(_RollUpColumns, Base):
    """A roll-up written by a run that has not been published yet."""

    __tablename__ = "staged_parent_health"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    weighting: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))


SCORE_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in HealthScore.__table__.columns if c.name != "run_id"
)
ROLLUP_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in ParentHealth.__table__.columns if c.name != "run_id"
)


class ApiKey(Base):
    """A stored API key (hash only)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FeatureLayout(Base):
    """The column names of stored feature vectors, in their order (kept once for all rows)."""

    __tablename__ = "feature_layouts"

    id: Mapped[str] = mapped_column(String(LAYOUT_ID_LENGTH), primary_key=True)
    names: Mapped[list[str]] = mapped_column(JSONType)


class AccountFeatures(Base):
    """The feature vector of one account at one date, as the batch scored it.

    ``features`` holds the values in the order of the layout's names; a row written before
    migration 0011 has no layout and holds a JSON object of name and value instead.
    """

    __tablename__ = "account_features"

    account_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    layout_id: Mapped[str | None] = mapped_column(ForeignKey("feature_layouts.id"), nullable=True)
    features: Mapped[list[Any] | dict[str, Any]] = mapped_column(JSONType)
    written_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AccountHierarchy(Base):
    """One edge of the account tree (``parent_id`` null at a root)."""

    __tablename__ = "account_hierarchy"

    account_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), nullable=True, index=True)
    as_of: Mapped[date] = mapped_column(Date)


class IngestProgress(Base):
    """How far a consumer of the ingested batches has got (the worker re-scores after it)."""

    __tablename__ = "ingest_progress"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
