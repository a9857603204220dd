"""Feature vectors and the account tree kept for the API (tables of migrations ``0002``, ``0011``).

``account_features`` holds, per account and ``as_of``, the feature vector the batch scored (every
snapshot column except ``account_id``, ``as_of`` and the labels, NaN as ``null``: a JSON array of
the values, their names kept once in a :mod:`~vitals.serving.store.feature_layouts` layout) and
the model version it was built for. ``POST /v1/predict`` scores an account by id from its newest
vector; the account detail explains a score change between the vectors of two dates with
:meth:`vitals.models.health_model.HealthModel.explain_change`, so each write keeps ``keep_days`` of
history (older rows are pruned) rather than only the newest row.

``account_hierarchy`` holds the whole account tree (``account_id, parent_id``), including parents
without a score of their own, which the health tables cannot link up; each write replaces it.

Both writers take a :class:`~vitals.serving.store.HealthStore` or an engine from
:func:`vitals.serving.store.db.create_store_engine` on a migrated store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from typing import Any

import pandas as pd
from pydantic_core import to_json
from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.orm import Session

from vitals.features.build import LABEL_COLUMNS
from vitals.serving.store.db import RawJSON, json_values, store_errors
from vitals.serving.store.feature_layouts import named, store_layout
from vitals.serving.store.schema import AccountFeatures, AccountHierarchy

KEEP_DAYS = 400  # history kept per account: enough for "change over the last year"
_CHUNK = 2000  # ids per IN (...) list and rows per insert batch
_FEW = 8  # up to this many accounts are read one by one
_NOT_FEATURES = {"account_id", "as_of", *LABEL_COLUMNS}


@dataclass(frozen=True)
class StoredFeatures:
    """A stored feature vector.

    Attributes:
        account_id: the account.
        as_of: the date the vector was built for.
        model_version: the model version that scored it.
        features: column name -> value (number, string or ``None``).
    """

    account_id: str
    as_of: date
    model_version: str
    features: dict[str, Any]


def _engine(target: Any) -> Engine:
    return target if isinstance(target, Engine) else target.engine


def write_latest_features(
    engine_or_store: Any,
    frame: pd.DataFrame,
    as_of: date,
    model_version: str,
    *,
    keep_days: int = KEEP_DAYS,
) -> int:
    """Store the feature vectors of one date, replacing that date's rows, and prune old ones.

    Args:
        engine_or_store: a :class:`~vitals.serving.store.HealthStore` or its engine.
        frame: snapshot rows of ``as_of`` (``account_id`` plus feature columns; ``as_of`` and
            label columns are not stored).
        as_of: the date the rows were built for.
        model_version: the model version that scored them.
        keep_days: rows older than ``as_of - keep_days`` are deleted.

    Returns:
        The number of vectors written.

    Raises:
        ValueError: no ``account_id`` column, or an account repeated.
        StoreError: the store cannot be written (nothing is changed).
    """
    engine = _engine(engine_or_store)
    with store_errors(engine, "write feature vectors"), engine.begin() as conn:
        _, rows = _feature_rows(conn, frame, as_of, model_version)
        conn.execute(delete(AccountFeatures).where(AccountFeatures.as_of == as_of))
        conn.execute(
            delete(AccountFeatures).where(AccountFeatures.as_of < as_of - timedelta(keep_days))
        )
        for chunk in _chunks(rows, _CHUNK):
            conn.execute(insert(AccountFeatures), chunk)
    return len(rows)


def replace_some_features(
    conn: Connection,
    frame: pd.DataFrame,
    as_of: date,
    model_version: str,
    accounts: Sequence[str] = (),
) -> int:
    """Replace some accounts' feature vectors of one date inside an open transaction (the
    incremental path, which writes them with their scores); see :func:`write_latest_features`.

    The vectors of ``frame``'s accounts and of ``accounts`` are deleted, ``frame``'s written: an
    account in ``accounts`` without a row (no longer a customer) keeps no vector that date, as
    after a batch run.

    Returns:
        The number of vectors written.

    Raises:
        ValueError: no ``account_id`` column, or an account repeated.
    """
    ids, rows = _feature_rows(conn, frame, as_of, model_version)
    _replace(conn, sorted(set(ids) | set(accounts)), rows, as_of)
    return len(rows)


def _feature_rows(
    conn: Connection, frame: pd.DataFrame, as_of: date, model_version: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """The rows to insert (their layout stored in ``conn``'s transaction), with their ids."""
    if "account_id" not in frame.columns:
        raise ValueError("frame needs an account_id column")
    ids = frame["account_id"].astype(str).tolist()
    if len(set(ids)) != len(ids):
        raise ValueError("frame repeats an account: store one vector per account and date")
    names, texts = _vectors(frame)
    # after the encoding: a new layout's insert is the transaction's first write (SQLite's lock)
    layout = store_layout(conn, names)
    now = datetime.now(UTC)
    rows = [
        {
            "account_id": a,
            "as_of": as_of,
            "model_version": model_version,
            "layout_id": layout,
            "features": RawJSON(text),
            "written_at": now,
        }
        for a, text in zip(ids, texts, strict=True)
    ]
    return ids, rows


def _replace(conn: Connection, ids: list[str], rows: list[dict[str, Any]], as_of: date) -> None:
    for chunk in _chunks(ids, _CHUNK):
        conn.execute(
            delete(AccountFeatures).where(
                AccountFeatures.as_of == as_of, AccountFeatures.account_id.in_(chunk)
            )
        )
    for chunk in _chunks(rows, _CHUNK):
        conn.execute(insert(AccountFeatures), chunk)


def read_latest_features(
    session: Session | Connection, account_ids: Sequence[str], on_or_before: date | None = None
) -> dict[str, StoredFeatures]:
    """Each account's newest stored vector (optionally the newest at or before a date).

    Args:
        session: a session or a plain connection (cheaper per call) on the store.
        account_ids: the accounts wanted (repeats are fine).
        on_or_before: ignore vectors built after this date.

    Returns:
        Account id -> vector, for the accounts that have one.
    """
    table = AccountFeatures
    columns = (table.account_id, table.as_of, table.model_version, table.layout_id, table.features)
    wanted = sorted(set(account_ids))
    rows = []
    if len(wanted) <= _FEW:  # one index range scan each: far cheaper than grouping
        for account in wanted:
            query = select(*columns).where(table.account_id == account)
            if on_or_before is not None:
                query = query.where(table.as_of <= on_or_before)
            rows.extend(session.execute(query.order_by(table.as_of.desc()).limit(1)))
    for chunk in _chunks(wanted if len(wanted) > _FEW else [], _CHUNK):
        newest = select(table.account_id, func.max(table.as_of).label("as_of"))
        newest = newest.where(table.account_id.in_(chunk))
        if on_or_before is not None:
            newest = newest.where(table.as_of <= on_or_before)
        newest = newest.group_by(table.account_id).subquery()
        match = (table.account_id == newest.c.account_id) & (table.as_of == newest.c.as_of)
        rows.extend(session.execute(select(*columns).join(newest, match)))
    vectors = named(session, ((layout, f) for _, _, _, layout, f in rows))
    return {
        a: StoredFeatures(a, d, v, vector)
        for (a, d, v, _, _), vector in zip(rows, vectors, strict=True)
    }


def write_hierarchy(engine_or_store: Any, tree: pd.DataFrame, as_of: date) -> int:
    """Replace the stored account tree.

    Args:
        engine_or_store: a :class:`~vitals.serving.store.HealthStore` or its engine.
        tree: ``account_id, parent_id`` (null at a root) of every account.
        as_of: the date the tree was read for.

    Returns:
        The number of accounts stored.

    Raises:
        StoreError: the store cannot be written (the old tree is kept).
    """
    parents = tree["parent_id"].astype(object).where(tree["parent_id"].notna(), None)
    rows = [
        {"account_id": str(a), "parent_id": None if p is None else str(p), "as_of": as_of}
        for a, p in zip(tree["account_id"].tolist(), parents.tolist(), strict=True)
    ]
    engine = _engine(engine_or_store)
    with store_errors(engine, "write the account tree"), engine.begin() as conn:
        conn.execute(delete(AccountHierarchy))
        for chunk in _chunks(rows, _CHUNK):
            conn.execute(insert(AccountHierarchy), chunk)
    return len(rows)


def read_subtree(session: Session, account_id: str) -> list[tuple[str, str | None]]:
    """The stored tree under an account, itself first: ``(account_id, parent_id)`` pairs.

    Returns:
        Parents before their children; empty when the account is not in the stored tree.
    """
    root = session.get(AccountHierarchy, account_id)
    if root is None:
        return []
    edges: list[tuple[str, str | None]] = [(root.account_id, root.parent_id)]
    seen, level = {account_id}, [account_id]
    while level:
        below = session.execute(
            select(AccountHierarchy.account_id, AccountHierarchy.parent_id)
            .where(AccountHierarchy.parent_id.in_(level))
            .order_by(AccountHierarchy.account_id)
        ).all()
        new = {a for a, _ in below if a not in seen}  # a corrupt cycle ends here
        seen |= new
        edges.extend((a, p) for a, p in below if a in new)
        level = sorted(new)
    return edges


def read_ancestors(session: Session, account_id: str) -> list[str]:
    """The account's parents in the stored tree, its own parent first, the root last."""
    chain: list[str] = []
    node = session.get(AccountHierarchy, account_id)
    while node is not None and node.parent_id is not None and node.parent_id not in chain:
        chain.append(node.parent_id)  # a corrupt cycle ends at the first repeat
        node = session.get(AccountHierarchy, node.parent_id)
    return chain


def _vectors(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The names of the columns a stored vector holds, in order, and each row's values of them
    as one compact JSON array (``json.loads`` reads it back)."""
    kept = [(str(name), column) for name, column in frame.items() if name not in _NOT_FEATURES]
    columns = [json_values(column) for _, column in kept]
    rows = zip(*columns, strict=True) if columns else repeat((), len(frame))
    return [name for name, _ in kept], [to_json(row).decode() for row in rows]


def _chunks(items: Sequence[Any] | Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
