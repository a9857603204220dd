"""Feature layouts: the column names of stored feature vectors, kept once (migration ``0011``).

A stored vector (``account_features.features``) is the JSON array of its values; its layout, the
column names in the same order, is stored once in ``feature_layouts`` under an id that is a
digest of the names, so every process gives the same names the same id and a layout never
changes once stored. A row written before migration 0011 has no layout and holds a JSON object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vitals.serving.store.schema import LAYOUT_ID_LENGTH, FeatureLayout

# layout id -> names, as read: an id names the same names in every store, so a process may keep
# what it read (but not what it wrote: another store may lack it)
_KNOWN: dict[str, tuple[str, ...]] = {}


def layout_id(names: Sequence[str]) -> str:
    """The id of a layout: a digest of its names, in order."""
    text = json.dumps(list(names), ensure_ascii=False).encode()
    return hashlib.blake2b(text, digest_size=LAYOUT_ID_LENGTH // 2).hexdigest()


def store_layout(conn: Connection, names: Sequence[str]) -> str:
    """Store a layout unless it is stored already (also when another writer stores it at the
    same moment), inside the caller's transaction.

    Returns:
        Its id.
    """
    key = layout_id(names)
    found = conn.execute(select(FeatureLayout.id).where(FeatureLayout.id == key)).first()
    if found is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        row = {"id": key, "names": list(names)}
        conn.execute(dialect.insert(FeatureLayout).values(row).on_conflict_do_nothing())
    return key


def named(
    session: Session | Connection, vectors: Iterable[tuple[str | None, Any]]
) -> list[dict[str, Any]]:
    """Stored vectors as ``name -> value`` dicts.

    Args:
        session: a session or connection on the store (to read the layouts not known yet).
        vectors: ``(layout_id, features)`` as stored.

    Returns:
        One dict per vector, in order (a row from before layouts as it was stored).
    """
    vectors = list(vectors)
    missing = {key for key, _ in vectors if key is not None and key not in _KNOWN}
    if missing:
        found = session.execute(
            select(FeatureLayout.id, FeatureLayout.names).where(FeatureLayout.id.in_(missing))
        )
        _KNOWN.update((key, tuple(names)) for key, names in found)
    return [
        dict(features) if key is None else dict(zip(_KNOWN[key], features, strict=True))
        for key, features in vectors
    ]
