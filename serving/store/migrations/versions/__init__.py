"""Alembic revisions of the health store: one schema change each, never edited once released."""
