"""Writing runs into the health store so that readers never see half of one.

A run (``score`` or ``backfill``) goes through three steps:

1. :meth:`HealthWriter.begin` records the run (status ``running``); being the first write, it also
   tells at once whether the database can be written at all;
2. :meth:`HealthWriter.stage` adds scores and roll-ups to the ``staged_*`` tables under the run's
   id, one committed batch at a time (readers do not look there);
3. :meth:`HealthWriter.publish` replaces, in one transaction, every live row whose ``as_of`` lies
   in the run's window by the staged rows, and marks the run ``complete``.

A run that fails or is interrupted is marked ``failed`` by :meth:`HealthWriter.fail` and its staged
rows are dropped; the live history is untouched. A run still ``running`` after :data:`ABANDON_AFTER`
belongs to a killed process: the next run that begins marks it ``failed`` and drops its rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from vitals.serving.store.db import store_errors
from vitals.serving.store.schema import (
    ROLLUP_COLUMNS,
    SCORE_COLUMNS,
    HealthScore,
    IngestProgress,
    ParentHealth,
    ScoringRun,
    StagedHealthScore,
    StagedParentHealth,
)

logger = logging.getLogger(__name__)

ABANDON_AFTER = timedelta(hours=12)
_ERROR_LENGTH = 2000

Row = Mapping[str, Any]


class HealthWriter:
    """Writes runs into the store (see the module docstring for the protocol).

    Args:
        engine: the store's engine; its schema must be migrated
            (:func:`vitals.serving.store.upgrade`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def check_writable(self) -> None:
        """Try a write (rolled back) so a read-only or unreachable store fails before any work.

        Raises:
            StoreError: the database cannot be reached or written.
        """
        with store_errors(self.engine, "write to the health store"), self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                conn.execute(delete(StagedHealthScore).where(StagedHealthScore.run_id == -1))
            finally:
                transaction.rollback()

    def begin(
        self,
        *,
        kind: str,
        model_uri: str,
        model_version: str,
        engine: str,
        dates: list[date],
    ) -> int:
        """Record a new run and return its id; drops what abandoned runs staged.

        Raises:
            StoreError: the database cannot be reached or is read-only.
        """
        now = datetime.now(UTC)
        with store_errors(self.engine, "record the run"), self.engine.begin() as conn:
            self._drop_abandoned(conn, now)
            run_id = conn.execute(
                insert(ScoringRun)
                .values(
                    kind=kind,
                    status="running",
                    model_uri=model_uri,
                    model_version=model_version,
                    engine=engine,
                    first_as_of=min(dates),
                    last_as_of=max(dates),
                    n_dates=len(dates),
                    n_scores=0,
                    started_at=now,
                )
                .returning(ScoringRun.id)
            ).scalar_one()
        logger.info("run %d (%s) started", run_id, kind)
        return run_id

    def stage(self, run_id: int, scores: Iterable[Row], rollups: Iterable[Row]) -> int:
        """Add one batch of scores and roll-ups to the run's staging rows (committed).

        Args:
            run_id: from :meth:`begin`.
            scores: rows with the :data:`~vitals.serving.store.schema.SCORE_COLUMNS`.
            rollups: rows with the :data:`~vitals.serving.store.schema.ROLLUP_COLUMNS`.

        Returns:
            The number of scores staged.

        Raises:
            StoreError: the write failed (nothing of this batch is kept).
        """
        score_rows = [{"run_id": run_id, **{c: r[c] for c in SCORE_COLUMNS}} for r in scores]
        rollup_rows = [{"run_id": run_id, **{c: r[c] for c in ROLLUP_COLUMNS}} for r in rollups]
        with store_errors(self.engine, "stage scores"), self.engine.begin() as conn:
            if score_rows:
                conn.execute(insert(StagedHealthScore), score_rows)
            if rollup_rows:
                conn.execute(insert(StagedParentHealth), rollup_rows)
        return len(score_rows)

    def publish(self, run_id: int) -> int:
        """Swap the run's staged rows into the live tables in one transaction.

        Every live score and roll-up with ``as_of`` between the run's first and last date
        (whatever its model version) is replaced: after a backfill the window holds exactly the
        new history.

        Returns:
            The number of scores published.

        Raises:
            StoreError: the swap failed; the live tables are as they were.
        """
        with store_errors(self.engine, "publish the run"):
            with self.engine.connect() as conn:
                run = conn.execute(select(ScoringRun).where(ScoringRun.id == run_id)).one()
            window = (run.first_as_of, run.last_as_of)
            with self.engine.begin() as conn:
                self._swap(conn, run_id, window)
                count = conn.execute(
                    select(func.count())
                    .select_from(HealthScore)
                    .where(HealthScore.run_id == run_id)
                ).scalar_one()
                self._drop_staged(conn, [run_id])
                conn.execute(
                    update(ScoringRun)
                    .where(ScoringRun.id == run_id)
                    .values(status="complete", n_scores=count, finished_at=datetime.now(UTC))
                )
        logger.info("run %d published: %d scores", run_id, count)
        return count

    @staticmethod
    def _swap(conn: Connection, run_id: int, window: tuple[date, date]) -> None:
        # deleting first takes the write lock before anything is read (SQLite)
        conn.execute(delete(HealthScore).where(HealthScore.as_of.between(*window)))
        conn.execute(delete(ParentHealth).where(ParentHealth.as_of.between(*window)))
        for live, staged, columns in (
            (HealthScore, StagedHealthScore, SCORE_COLUMNS),
            (ParentHealth, StagedParentHealth, ROLLUP_COLUMNS),
        ):
            source = select(*(getattr(staged, c) for c in columns), staged.run_id)
            conn.execute(
                insert(live).from_select(
                    [*columns, "run_id"], source.where(staged.run_id == run_id)
                )
            )

    def replace_accounts(
        self,
        run_id: int,
        as_of: date,
        accounts: list[str],
        scores: list[dict[str, Any]],
        parents: list[str],
        rollups: list[dict[str, Any]],
        progress: tuple[str, int] | None = None,
        within: Callable[[Connection], object] | None = None,
    ) -> None:
        """Replace some accounts' and parents' live rows of one date, in one transaction.

        The incremental path: the given accounts' scores and the given parents' roll-ups at
        ``as_of`` are replaced (every other row stays), the run's count grows, and the consumer's
        progress is recorded with them, so a crash leaves either all of it or none.

        Args:
            run_id: the live run the rows belong to (from :meth:`begin`).
            as_of: the date of every row.
            accounts: the accounts whose rows are replaced (one without a new score, no longer
                a current customer, loses its row).
            scores: their new rows, with the :data:`~vitals.serving.store.schema.SCORE_COLUMNS`.
            parents: the parents whose roll-ups are replaced.
            rollups: their new rows, with the :data:`~vitals.serving.store.schema.ROLLUP_COLUMNS`.
            progress: ``(consumer, sequence)`` to record, if any.
            within: more writes for the same transaction (e.g. the accounts' feature vectors).

        Raises:
            StoreError: the write failed; nothing changed.
        """
        with store_errors(self.engine, "replace scores"), self.engine.begin() as conn:
            if within is not None:
                within(conn)
            for chunk in _chunks(accounts):
                conn.execute(
                    delete(HealthScore).where(
                        HealthScore.as_of == as_of, HealthScore.account_id.in_(chunk)
                    )
                )
            for chunk in _chunks(parents):
                conn.execute(
                    delete(ParentHealth).where(
                        ParentHealth.as_of == as_of, ParentHealth.parent_id.in_(chunk)
                    )
                )
            if scores:
                conn.execute(
                    insert(HealthScore),
                    [{"run_id": run_id, **{c: r[c] for c in SCORE_COLUMNS}} for r in scores],
                )
            if rollups:
                conn.execute(
                    insert(ParentHealth),
                    [{"run_id": run_id, **{c: r[c] for c in ROLLUP_COLUMNS}} for r in rollups],
                )
            conn.execute(
                update(ScoringRun)
                .where(ScoringRun.id == run_id)
                .values(n_scores=ScoringRun.n_scores + len(scores), last_as_of=as_of)
            )
            if progress is not None:
                record_progress(conn, *progress)

    def finish(self, run_id: int) -> None:
        """Mark a live (incremental) run complete."""
        with store_errors(self.engine, "finish the run"), self.engine.begin() as conn:
            conn.execute(
                update(ScoringRun)
                .where(ScoringRun.id == run_id)
                .values(status="complete", finished_at=datetime.now(UTC))
            )

    def fail(self, run_id: int, error: str) -> None:
        """Mark a run failed and drop its staged rows (best effort: never raises).

        Args:
            run_id: from :meth:`begin`.
            error: why it failed, kept with the run.
        """
        try:
            with self.engine.begin() as conn:
                self._drop_staged(conn, [run_id])
                conn.execute(
                    update(ScoringRun)
                    .where(ScoringRun.id == run_id)
                    .values(
                        status="failed",
                        finished_at=datetime.now(UTC),
                        error=error[:_ERROR_LENGTH],
                    )
                )
        except Exception:  # the store may be the reason the run failed
            logger.warning("could not mark run %d failed", run_id, exc_info=True)

    def _drop_abandoned(self, conn: Connection, now: datetime) -> None:
        stale = select(ScoringRun.id).where(
            ScoringRun.status == "running", ScoringRun.started_at < now - ABANDON_AFTER
        )
        stale_ids = list(conn.execute(stale).scalars())
        if stale_ids:
            conn.execute(
                update(ScoringRun)
                .where(ScoringRun.id.in_(stale_ids))
                .values(status="failed", error="abandoned: the process stopped before publishing")
            )
        finished = select(ScoringRun.id).where(ScoringRun.status != "running")
        self._drop_staged(conn, finished)

    @staticmethod
    def _drop_staged(conn: Connection, run_ids: Any) -> None:
        conn.execute(delete(StagedHealthScore).where(StagedHealthScore.run_id.in_(run_ids)))
        conn.execute(delete(StagedParentHealth).where(StagedParentHealth.run_id.in_(run_ids)))


def record_progress(conn: Connection, consumer: str, sequence: int) -> None:
    """Record that ``consumer`` has handled the ingested batches up to ``sequence``."""
    now = datetime.now(UTC)
    done = conn.execute(
        update(IngestProgress)
        .where(IngestProgress.consumer == consumer)
        .values(last_sequence=sequence, updated_at=now)
    ).rowcount
    if not done:
        conn.execute(
            insert(IngestProgress).values(consumer=consumer, last_sequence=sequence, updated_at=now)
        )


def read_progress(engine: Engine, consumer: str) -> int:
    """The last ingested batch ``consumer`` has handled (0 before the first)."""
    with store_errors(engine, "read the ingestion progress"), engine.connect() as conn:
        found = conn.execute(
            select(IngestProgress.last_sequence).where(IngestProgress.consumer == consumer)
        ).scalar_one_or_none()
    return found or 0


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
