"""The health store: scored snapshots, parent roll-ups and scoring runs (SQLAlchemy + Alembic).

Typical use::

    store = HealthStore.open(get_settings().database_url)   # migrates to the latest schema
    with store.session() as session:
        latest = HealthRepository(session).latest()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vitals.serving.store.alert_schema import Alert, AlertDelivery
from vitals.serving.store.console_schema import ConsoleSecret, console_secret
from vitals.serving.store.db import (
    RawJSON,
    StoreError,
    create_store_engine,
    describe_url,
    store_errors,
)
from vitals.serving.store.drift_schema import DriftReportRecord
from vitals.serving.store.migrate import current_revision, head_revision, upgrade
from vitals.serving.store.people_schema import AuditEntry, BandOverride
from vitals.serving.store.repository import BandSummary, HealthRepository, ScoreChange
from vitals.serving.store.schema import HealthScore, ParentHealth, ScoringRun
from vitals.serving.store.writer import HealthWriter

__all__ = [
    "Alert",
    "AlertDelivery",
    "AuditEntry",
    "BandOverride",
    "BandSummary",
    "ConsoleSecret",
    "DriftReportRecord",
    "HealthRepository",
    "HealthScore",
    "HealthStore",
    "HealthWriter",
    "ParentHealth",
    "RawJSON",
    "ScoreChange",
    "ScoringRun",
    "StoreError",
    "console_secret",
    "current_revision",
    "describe_url",
    "head_revision",
    "upgrade",
]


class HealthStore:
    """An engine on the store plus sessions, a writer and repositories over it.

    Args:
        engine: from :func:`vitals.serving.store.db.create_store_engine`.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, database_url: str, *, migrate: bool = True) -> HealthStore:
        """Connect to the store at ``database_url``, migrating its schema unless told not to.

        Raises:
            StoreError: the database cannot be reached, migrated, or is behind the code's schema
                (with ``migrate=False``).
        """
        store = cls(create_store_engine(database_url))
        try:
            if migrate:
                upgrade(store.engine)
            elif current_revision(store.engine) != head_revision():
                raise StoreError(
                    f"{describe_url(database_url)} is not at schema revision {head_revision()}: "
                    "run `vitals score` once, or vitals.serving.store.upgrade(url)"
                )
        except BaseException:
            store.close()
            raise
        return store

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose driver errors become :class:`StoreError`."""
        with store_errors(self.engine, "read the health store"), self._sessions() as session:
            yield session

    def writer(self) -> HealthWriter:
        """A writer of runs on this store."""
        return HealthWriter(self.engine)

    def close(self) -> None:
        """Release the store's connections."""
        self.engine.dispose()
