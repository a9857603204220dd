"""Tiny hand-written data directories for known-answer feature and label tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ACCOUNT_COLUMNS = ["account_id", "parent_id", "segment", "created_at"]


def write_tables(root: Path, **tables: list[dict]) -> Path:
    """Write each table given as a list of row dicts to ``root/<table>.csv``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        pd.DataFrame(rows).to_csv(root / f"{name}.csv", index=False)
    return root


def account(
    account_id: str,
    created_at: str = "2024-01-01",
    segment: str = "smb",
    parent_id: str | None = None,
    **extra: object,
) -> dict:
    """One accounts row."""
    return {
        "account_id": account_id,
        "parent_id": parent_id,
        "segment": segment,
        "created_at": created_at,
        **extra,
    }


def line(
    account_id: str,
    start: str,
    end: str | None = None,
    mrr: float = 100.0,
    seats: float | None = 10.0,
    discount: float | None = None,
    period: int = 1,
) -> dict:
    """One subscriptions row."""
    return {
        "account_id": account_id,
        "start_date": start,
        "end_date": end,
        "mrr": mrr,
        "seats": seats,
        "discount": discount,
        "billing_period_months": period,
    }


def event(
    account_id: str,
    timestamp: str,
    event_type: str = "feature_use",
    user_id: str | None = "u1",
    feature: str | None = "reports",
    value: float | None = None,
) -> dict:
    """One events row."""
    return {
        "account_id": account_id,
        "timestamp": timestamp,
        "event_type": event_type,
        "user_id": user_id,
        "feature": feature,
        "value": value,
    }
