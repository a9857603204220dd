"""Keeping computed drift reports in the store, and reading back the newest calibration drift."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select

from vitals.serving.drift.calibration import CalibrationDrift
from vitals.serving.drift.report import DriftReport
from vitals.serving.store import HealthStore
from vitals.serving.store.db import store_errors
from vitals.serving.store.drift_schema import DriftReportRecord


def save_report(store: HealthStore, report: DriftReport) -> int:
    """Store a computed report (shares per bin included); returns its id.

    Raises:
        StoreError: the store cannot be written.
    """
    row = {
        "model_version": report.model_version,
        "computed_at": report.computed_at,
        "report": report.to_dict(bins=True),
    }
    with store_errors(store.engine, "save the drift report"), store.engine.begin() as conn:
        return conn.execute(
            insert(DriftReportRecord).values(**row).returning(DriftReportRecord.id)
        ).scalar_one()


def latest_calibration(
    store: HealthStore, version: str
) -> tuple[CalibrationDrift, datetime] | None:
    """The calibration drift of the newest stored report of ``version``, and when it was computed
    (``None`` when no report of that version is stored).

    Raises:
        StoreError: the store cannot be read.
    """
    query = (
        select(DriftReportRecord.report, DriftReportRecord.computed_at)
        .where(DriftReportRecord.model_version == version)
        .order_by(DriftReportRecord.id.desc())
        .limit(1)
    )
    with store.session() as session:
        found = session.execute(query).first()
    if found is None:
        return None
    report, computed_at = found
    if computed_at.tzinfo is None:  # SQLite keeps no zone: the store writes UTC
        computed_at = computed_at.replace(tzinfo=UTC)
    return CalibrationDrift.from_dict(report["calibration"]), computed_at
