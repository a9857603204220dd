"""Alembic migrations of the health store, applied by :func:`serving.store.migrate.upgrade`."""
