"""The table of computed drift reports (migration ``0006``).

``drift_reports`` keeps one row per report that ``vitals evaluate --drift --data DIR`` computed:
the model version it is about, when it was computed, and the report itself (JSON, the shape of
:meth:`vitals.serving.drift.report.DriftReport.to_dict`). Calibration drift needs the churn that
actually happened, which only the data directory knows, so the API cannot compute it and reads the
newest stored report of the served model instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vitals.serving.store.schema import VERSION_LENGTH, Base, JSONType


class DriftReportRecord(Base):
    """A drift report of one model version, as computed at ``computed_at``."""

    __tablename__ = "drift_reports"
    __table_args__ = (Index("ix_drift_reports_version", "model_version", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version: Mapped[str] = mapped_column(String(VERSION_LENGTH))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    report: Mapped[dict[str, Any]] = mapped_column(JSONType)
