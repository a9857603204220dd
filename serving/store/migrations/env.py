"""Alembic environment of the health store.

Run programmatically by :func:`vitals.serving.store.migrate.upgrade`, which passes an open
connection in ``config.attributes["connection"]``; ``alembic -c <ini>`` with ``sqlalchemy.url`` set
works too (e.g. to write a new revision with ``--autogenerate``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from vitals.serving.store.db import create_store_engine
from vitals.serving.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the given connection, or one opened from ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_store_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as opened:
            _run(opened)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
