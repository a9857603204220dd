"""Builders for the API tests: a filled health store and key headers.

Sample data and the model come from :mod:`kit`; API models also carry ``TRAIN_WINDOWS``.

The store is filled the way production fills it: ``backfill`` scores a few dates into it, then
the feature vectors and the account tree are written with
:mod:`vitals.serving.store.features_table`.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI

from vitals.config.settings import Settings, get_settings
from vitals.features.build import build_features
from vitals.features.loader import load_dataset
from vitals.models.health_model import HealthModel
from vitals.serving.api.app import create_app
from vitals.serving.batch import LoadedModel, RunOptions, backfill
from vitals.serving.store import HealthRepository, HealthStore
from vitals.serving.store.features_table import write_hierarchy, write_latest_features


def copy_store(store_url: str, folder: Path) -> str:
    """A copy of a SQLite store (through SQLite's backup, so the write-ahead log is copied too);
    its URL."""
    copy = folder / "vitals.db"
    with (
        closing(sqlite3.connect(store_url.removeprefix("sqlite:///"))) as source,
        closing(sqlite3.connect(copy)) as target,
    ):
        source.backup(target)
    return f"sqlite:///{copy}"


TRAIN_WINDOWS = {"train": {"start": "2025-01-01", "end": "2025-09-01"}}
"""The training window the API models' metadata reports (``GET /model``'s ``training_window``)."""


def fill_store(url: str, data_dir: Path, model_dir: Path, model: HealthModel) -> list[date]:
    """Backfill 120 days every 30 days, then store the vectors and the tree; returns the dates."""
    backfill(
        str(data_dir),
        days=120,
        every="30d",
        options=RunOptions(model=str(model_dir), database_url=url),
    )
    store = HealthStore.open(url)
    try:
        with store.session() as session:
            dates = HealthRepository(session).dates()
        dataset = load_dataset(data_dir)
        snapshots = build_features(
            dataset, dates, vocabulary=model.feature_set_.vocabulary
        ).to_pandas()
        for day, frame in snapshots.groupby("as_of", sort=True):
            write_latest_features(store, frame, pd.Timestamp(day).date(), "test-1")
        tree = dataset.con.execute("SELECT account_id, parent_id FROM accounts").df()
        write_hierarchy(store, tree, dates[-1])
        dataset.con.close()
    finally:
        store.close()
    return dates


def auth(key: str) -> dict[str, str]:
    """Headers sending ``key``."""
    return {"X-API-Key": key}


@contextmanager
def annotated_app(
    store_url: str,
    model: HealthModel,
    model_dir: Path,
    data_dir: Path,
    folder: Path,
    **settings: Any,
) -> Iterator[FastAPI]:
    """An app over a copy of the filled store (tests that add overrides and ratings change
    only their copy), ingesting ratings into ``folder/ingested`` beside ``data_dir``."""
    url = copy_store(store_url, folder)
    ingested = str(folder / "ingested")
    # the loader finds ingested rows by the process' settings, as in a server the CLI started
    os.environ["VITALS_INGEST__STORE_DIR"] = ingested
    get_settings.cache_clear()
    store = HealthStore.open(url)
    ingest = {"data_dir": str(data_dir), "store_dir": ingested, "rescore_in_server": False}
    configured = Settings(
        database_url=url, serving={"model": str(model_dir)}, ingest=ingest, **settings
    )
    try:
        yield create_app(
            configured, model=LoadedModel(model, str(model_dir), "test-1"), store=store
        )
    finally:
        store.close()
        del os.environ["VITALS_INGEST__STORE_DIR"]
        get_settings.cache_clear()
