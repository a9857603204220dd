"""Applying the store's Alembic migrations from code (no ``alembic.ini`` needed)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from vitals.serving.store.db import create_store_engine, store_errors

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations.

    Args:
        database_url: written to ``sqlalchemy.url`` (for command-line style use).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision of the packaged migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package always ships at least one revision
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` when it was never migrated).

    Raises:
        StoreError: the database cannot be reached.
    """
    with store_errors(engine, "read the schema version"), engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(target: str | Engine, revision: str = "head") -> None:
    """Bring the store's schema up to ``revision`` (a no-op when it is there already).

    SQLite files are switched to write-ahead logging, so readers keep reading while a run writes.

    Args:
        target: a database URL or an engine from
            :func:`vitals.serving.store.db.create_store_engine`.
        revision: Alembic revision to reach.

    Raises:
        StoreError: the database cannot be reached or written.
    """
    engine = create_store_engine(target) if isinstance(target, str) else target
    try:
        if current_revision(engine) == head_revision() and revision == "head":
            return
        config = alembic_config()
        with store_errors(engine, "migrate the schema"), engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.execute(text("PRAGMA journal_mode=WAL"))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        logger.info("health store schema at revision %s", revision)
    finally:
        if isinstance(target, str):
            engine.dispose()
