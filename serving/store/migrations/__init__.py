"""Alembic migrations of the health store, applied by
:func:`vitals.serving.store.migrate.upgrade`."""
