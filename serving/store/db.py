"""Connecting to the health store: engine creation, error translation, fast JSON binding and
JSON-ready values.

SQLite (a file, ``sqlite:///vitals.db`` by default) and PostgreSQL (``postgresql+psycopg://...``)
are both supported. Errors from the driver become a :class:`StoreError` whose message names the
database (password hidden) and says what went wrong, so the command line can print one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

SQLITE_BUSY_TIMEOUT_MS = 30_000


class StoreError(RuntimeError):
    """The health store cannot be reached, read or written; the message says which and why."""


class RawJSON(str):
    """JSON text that is already encoded: bound as is, without a second ``json.dumps``."""

    __slots__ = ()


def dump_json(value: Any) -> str:
    """Serialise a JSON column value; :class:`RawJSON` passes through unchanged."""
    if isinstance(value, RawJSON):
        return str(value)
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def describe_url(database_url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def create_store_engine(database_url: str) -> Engine:
    """An engine for the store at ``database_url``.

    SQLite connections get foreign keys on and a busy timeout, so a writer waits for another
    writer instead of failing at once.

    Args:
        database_url: SQLAlchemy URL, e.g. ``sqlite:///vitals.db`` or
            ``postgresql://user:pw@127.0.0.1:5432/vitals`` (run with psycopg 3).

    Raises:
        StoreError: an unparsable URL or a driver that is not installed.
    """
    try:
        url = make_url(database_url)
        if url.drivername == "postgresql":  # SQLAlchemy's default driver would be psycopg2
            url = url.set(drivername="postgresql+psycopg")
        engine = create_engine(url, json_serializer=dump_json, pool_pre_ping=True)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"no driver for {describe_url(database_url)}: {exc} "
            "(PostgreSQL needs `pip install 'psycopg[binary]'`)"
        ) from None
    except ArgumentError as exc:
        raise StoreError(f"database URL {describe_url(database_url)} is not valid: {exc}") from None
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


@contextmanager
def store_errors(engine: Engine, doing: str) -> Iterator[None]:
    """Turn driver errors raised inside the block into a :class:`StoreError`.

    Args:
        engine: the store's engine (its URL names the database in the message).
        doing: what was being done, e.g. ``"write scores"``.
    """
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(_message(engine, doing, exc)) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot {doing} in {_where(engine)}: {exc}") from exc


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _message(engine: Engine, doing: str, exc: DBAPIError) -> str:
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    lowered = detail.lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        hint = "the database is read-only"
    elif exc.connection_invalidated or "connection" in lowered or "unable to open" in lowered:
        hint = "the database cannot be reached"
    else:
        hint = "the database refused the operation"
    return f"cannot {doing} in {_where(engine)}: {hint} ({detail})"


def json_values(column: pd.Series) -> list[Any]:
    """A column's values as JSON-ready Python values (see :func:`_plain`), numbers in bulk.

    NaN and missing become ``None``. ``to_json`` writes a float as its shortest exact text, so
    it reads back as the same float.
    """
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        numbers = column.to_numpy()
        values = numbers.astype(object)
        values[~np.isfinite(numbers)] = None
        return values.tolist()
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return column.tolist()
    return [_plain(value) for value in column.to_numpy(dtype=object)]


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars to Python, NaN / NA / NaT to ``None``, dates to ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, date | pd.Timestamp):
        return value.isoformat()
    return value
