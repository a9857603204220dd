"""API keys: created once, stored hashed, verified with a short in-memory cache, revocable.

A key reads ``vk_<id>_<secret>``: ``id`` is public (it names the key in ``vitals keys list`` and
``vitals keys revoke``), the secret is 256 random bits. Only the SHA-256 of the whole key is
stored, so the database cannot give keys away; a fast hash is enough because the keys are long
random strings, not passwords a person chose. A key holds scopes (``read``, ``predict``,
``ingest``, ``annotate``, ``admin``); ``admin`` allows everything.

Verification costs one hash and a dict look-up: results (good and bad keys) are cached by hash
for ``ttl`` seconds, so a revocation made by another process (``vitals keys revoke``) takes
effect within that time.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import Engine, insert, select, update

from vitals.serving.store.db import store_errors
from vitals.serving.store.schema import ApiKey

Scope = Literal["read", "predict", "ingest", "annotate", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
PREFIX = "vk"
_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class KeyInfo:
    """What the server knows about a key (never the key itself).

    Attributes:
        id: the public key id.
        name: a label given at creation.
        scopes: the scopes granted.
        created_at: when it was created.
        revoked_at: when it was revoked (``None`` while it is valid).
    """

    id: str
    name: str | None
    scopes: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None = None

    def allows(self, scope: str) -> bool:
        """Whether the key grants ``scope`` (``admin`` grants every scope)."""
        return scope in self.scopes or "admin" in self.scopes


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``key`` is shown once and cannot be recovered later."""

    key: str
    info: KeyInfo


def hash_key(key: str) -> str:
    """SHA-256 of a key, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _engine(target: Any) -> Engine:
    return target if isinstance(target, Engine) else target.engine


def create_key(engine_or_store: Any, scopes: Iterable[str], name: str | None = None) -> NewKey:
    """Create a key with the given scopes and store its hash.

    Args:
        engine_or_store: a migrated :class:`~vitals.serving.store.HealthStore` or its engine.
        scopes: one or more of :data:`SCOPES`.
        name: a label, e.g. who the key is for.

    Returns:
        The new key (print it once: only its hash is kept).

    Raises:
        ValueError: no scope, or an unknown one.
        StoreError: the store cannot be written.
    """
    granted = frozenset(scopes)
    if not granted:
        raise ValueError(f"give at least one scope of {', '.join(SCOPES)}")
    if unknown := sorted(granted - set(SCOPES)):
        raise ValueError(f"unknown scope(s) {unknown}: choose from {', '.join(SCOPES)}")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    info = KeyInfo(key_id, name, granted, datetime.now(UTC))
    engine = _engine(engine_or_store)
    with store_errors(engine, "create an API key"), engine.begin() as conn:
        conn.execute(
            insert(ApiKey).values(
                id=key_id,
                name=name,
                key_hash=hash_key(key),
                scopes=",".join(s for s in SCOPES if s in granted),
                created_at=info.created_at,
            )
        )
    return NewKey(key, info)


def revoke_key(engine_or_store: Any, key_id: str) -> KeyInfo:
    """Revoke a key by its id (revoking twice keeps the first date).

    Raises:
        KeyError: no key has that id.
        StoreError: the store cannot be written.
    """
    engine = _engine(engine_or_store)
    with store_errors(engine, "revoke an API key"), engine.begin() as conn:
        conn.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        row = conn.execute(select(ApiKey).where(ApiKey.id == key_id)).first()
    if row is None:
        raise KeyError(f"no API key has id {key_id!r}")
    return _info(row)


def list_keys(engine_or_store: Any) -> list[KeyInfo]:
    """Every key, oldest first (revoked ones included)."""
    engine = _engine(engine_or_store)
    with store_errors(engine, "list API keys"), engine.connect() as conn:
        rows = conn.execute(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)).all()
    return [_info(r) for r in rows]


def _info(row: Any) -> KeyInfo:
    return KeyInfo(
        row.id, row.name, frozenset(row.scopes.split(",")), row.created_at, row.revoked_at
    )


class KeyVerifier:
    """Checks presented keys against the store, caching each answer for ``ttl`` seconds.

    Args:
        engine_or_store: the store holding the keys.
        ttl: seconds an answer is reused (0 looks every key up every time).
    """

    def __init__(self, engine_or_store: Any, ttl: float = 30.0) -> None:
        self.engine = _engine(engine_or_store)
        self.ttl = ttl
        self._cache: dict[str, tuple[float, KeyInfo | None]] = {}

    def cached(self, key: str) -> tuple[bool, KeyInfo | None]:
        """``(True, info or None)`` when a fresh answer is cached, else ``(False, None)``."""
        entry = self._cache.get(hash_key(key))
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def verify(self, key: str) -> KeyInfo | None:
        """The key's info, or ``None`` for an unknown or revoked key (may query the store).

        Raises:
            StoreError: the store cannot be read.
        """
        return self._lookup(hash_key(key), ApiKey.key_hash == hash_key(key))

    def verify_id(self, key_id: str) -> KeyInfo | None:
        """The info of the key with this public id, or ``None`` when unknown or revoked.

        A console session names its key by id: each request checks the key is still valid.

        Raises:
            StoreError: the store cannot be read.
        """
        return self._lookup(f"id:{key_id}", ApiKey.id == key_id)

    def _lookup(self, cache_key: str, where: Any) -> KeyInfo | None:
        entry = self._cache.get(cache_key)
        if entry is not None and entry[0] >= time.monotonic():
            return entry[1]
        with store_errors(self.engine, "check an API key"), self.engine.connect() as conn:
            row = conn.execute(select(ApiKey).where(where)).first()
        info = None if row is None or row.revoked_at is not None else _info(row)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[cache_key] = (time.monotonic() + self.ttl, info)
        return info
