"""The console's signing secret (migration ``0007``).

The console signs its session cookies with one random secret, kept in the store so that every
server process (``vitals serve --workers N``) and every restart accepts the same sessions.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, Engine, Integer, String, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from vitals.serving.store.db import store_errors
from vitals.serving.store.schema import Base

SECRET_LENGTH = 128


class ConsoleSecret(Base):
    """The one row holding the console's signing secret."""

    __tablename__ = "console_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret: Mapped[str] = mapped_column(String(SECRET_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def console_secret(engine: Engine) -> str:
    """The console's signing secret, created on first use (two processes agree on one).

    Raises:
        StoreError: the store cannot be read or written.
    """
    query = select(ConsoleSecret.secret).where(ConsoleSecret.id == 1)
    with store_errors(engine, "read or create the console secret"):
        with engine.begin() as conn:
            found = conn.execute(query).scalar_one_or_none()
        if found is not None:
            return found
        row = {"id": 1, "secret": secrets.token_urlsafe(48), "created_at": datetime.now(UTC)}
        try:
            with engine.begin() as conn:
                conn.execute(insert(ConsoleSecret).values(**row))
        except IntegrityError:
            pass  # another process created it first: read theirs
        with engine.begin() as conn:
            return conn.execute(query).scalar_one()
