"""Incremental re-scoring: the live scores follow the ingested batches, equal to a batch run.

The :class:`Rescorer` keeps, for the current scoring date, the scores of every current customer
exactly as ``vitals score`` computes them over the same data (the data directory and every
ingested batch):

* When the date moves on (an ingested row stamped on a new day moves the end of the data), when
  the model changes, and at the start, it scores everyone: the day moves every account's
  features (tenure, recency, days to renewal), so a batch run would change them all. So does the
  first use of a product feature, which changes every account's count of features available.
* Otherwise only the accounts that new batches touched get their features recomputed (from their
  own rows alone, their events read through the daily roll-ups the reader keeps up to date
  (:mod:`vitals.features.daily_rollups`): every feature of an account reads only that account's
  rows, besides that count) and are re-scored;
  the roll-ups of every parent above them are recomputed from all current scores, in the batch's
  order, so a parent also equals the batch's to the last bit.

Each step is written in one transaction with the batches it covers
(:meth:`~vitals.serving.store.writer.HealthWriter.replace_accounts`): after a crash the worker
starts again from the last recorded batch.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vitals.config.settings import get_settings
from vitals.features.ingested import CompactedAway, IngestedStore
from vitals.features.loader import Dataset
from vitals.models.scorecard import Scorecards
from vitals.serving.batch.frames import ROLLED_UP, roll_up_scores, score_and_reason
from vitals.serving.batch.jobs import publish_scored, score_rows
from vitals.serving.batch.model_source import LoadedModel
from vitals.serving.ingest.forest import Forest
from vitals.serving.ingest.work import Work, WorkReader
from vitals.serving.store import HealthStore
from vitals.serving.store.features_table import replace_some_features, write_hierarchy
from vitals.serving.store.writer import read_progress, record_progress

logger = logging.getLogger(__name__)

CONSUMER = "rescoring"


@dataclass(frozen=True)
class Step:
    """What one re-scoring step did.

    Attributes:
        as_of: the scoring date.
        accounts: accounts re-scored (every current customer for a full step).
        full: whether everyone was scored.
        through: the last ingested batch the live scores now include.
        touched: the accounts re-scored by a partial step (empty for a full one).
    """

    as_of: date
    accounts: int
    full: bool
    through: int
    touched: tuple[str, ...] = ()


class Rescorer:
    """Keeps one date's live scores equal to a batch run over the data and ingested batches.

    Args:
        store: the health store.
        dataset: the data directory loaded with every ingested batch so far (kept up to date
            from ``ingested``; owned by the rescorer from now on).
        ingested: the store of ingested batches.
        top_k: reasons stored per account, as ``vitals score --top-k``.
    """

    def __init__(
        self, store: HealthStore, dataset: Dataset, ingested: IngestedStore, top_k: int = 5
    ) -> None:
        self.store = store
        self.reader = WorkReader(dataset, ingested)
        self.ingested = ingested
        self.top_k = top_k
        self._scores: pd.DataFrame | None = None
        self._reasons: pd.DataFrame | None = None  # the scores' reasons, parsed once
        self._key: tuple[date, str] | None = None  # what the live scores are of
        self._run_id: int | None = None
        self._cards: dict[str, Scorecards] = {}  # by model version
        self._forest: Forest | None = None  # of the last partial step's account tree

    def pending(self) -> int:
        """Committed batches the live scores do not include yet."""
        return Backlog(self.store, self.ingested).pending()

    def lag(self) -> float:
        """Seconds the oldest batch the live scores do not include has waited (0: none)."""
        return Backlog(self.store, self.ingested).lag()

    def step(self, loaded: LoadedModel) -> Step | None:
        """Take in the batches committed since the last step and update the live scores.

        Returns:
            What was done, or ``None`` when nothing was new.
        """
        try:
            work = self.reader.next(loaded)
            return None if work is None else self.apply(work)
        except Exception:
            self.reader.restart()  # its batches are taken in: only scoring everyone covers them
            raise

    def apply(self, work: Work) -> Step:
        """Score the work's accounts and store them (with their parents' roll-ups).

        Raises:
            RuntimeError: partial work for scores this rescorer does not hold (the step before
                it failed): the reader must :meth:`~WorkReader.restart`.
        """
        if work.full:
            return self._score_everyone(work)
        if self._key != (work.as_of, work.loaded.version):
            raise RuntimeError("the live scores are not those this work updates: score everyone")
        return self._score_some(work)

    def _scorecards(self, loaded: LoadedModel) -> Scorecards:
        """The configured scorecards for the model (checked against its features once)."""
        if loaded.version not in self._cards:
            scorecard = get_settings().scorecard
            self._cards[loaded.version] = Scorecards.for_model(loaded.model, scorecard)
        return self._cards[loaded.version]

    def _score_everyone(self, work: Work) -> Step:
        loaded, as_of = work.loaded, work.as_of
        self._key = None  # until everything is stored
        scores, reasons = score_and_reason(
            loaded.model, work.frame, loaded.version, self.top_k, self._scorecards(loaded)
        )
        rollups = roll_up_scores(loaded.model, work.tree, scores, reasons)
        publish_scored(
            self.store,
            loaded,
            "score",
            "duckdb",
            [as_of],
            [(as_of, work.frame, scores, rollups)],
            work.tree,
        )
        writer = self.store.writer()
        if self._run_id is not None:
            writer.finish(self._run_id)
        self._run_id = writer.begin(
            kind="incremental",
            model_uri=loaded.uri,
            model_version=loaded.version,
            engine="duckdb",
            dates=[as_of],
        )
        with self.store.engine.begin() as conn:
            record_progress(conn, CONSUMER, work.through)
        self._scores, self._reasons = _rolled_up(scores), reasons
        self._key = (as_of, loaded.version)
        logger.info("scored all %d accounts as of %s", len(scores), as_of)
        return Step(as_of, len(scores), True, work.through)

    def _score_some(self, work: Work) -> Step:
        assert self._scores is not None and self._reasons is not None and self._run_id is not None
        loaded, as_of, touched, tree = work.loaded, work.as_of, list(work.touched), work.tree
        if not touched:  # nothing to re-score: the batches are covered
            with self.store.engine.begin() as conn:
                record_progress(conn, CONSUMER, work.through)
            return Step(as_of, 0, False, work.through)
        fresh, fresh_reasons = score_and_reason(
            loaded.model, work.frame, loaded.version, self.top_k, self._scorecards(loaded)
        )
        # kept in no particular order: only the trees rolled up below are put in order
        merged = pd.concat(
            [self._scores[~_among(self._scores["account_id"], touched)], _rolled_up(fresh)],
            ignore_index=True,
        )
        reasons = pd.concat(
            [self._reasons[~_among(self._reasons["account_id"], touched)], fresh_reasons],
            ignore_index=True,
        )
        # a parent's roll-up reads only its own subtree: roll up the trees the touched accounts
        # are in (same rows, in the batch's order by account id, so the same sums as over
        # everyone)
        if self._forest is None or self._forest.tree is not tree:  # the reader read it again
            self._forest = Forest.of(tree)
        members = self._forest.same_trees(touched)
        rollups = roll_up_scores(
            loaded.model,
            tree[_among(tree["account_id"], members)],
            _in_order(merged, members),
            _in_order(reasons, members),
        )
        # a touched parent's own roll-up counts its own score too
        parents = sorted(self._forest.ancestors(touched) | set(touched))
        changed = rollups[_among(rollups["parent_id"], parents)]
        score_records, rollup_records = score_rows(fresh, changed)
        if work.new_accounts:
            write_hierarchy(self.store, tree, as_of)
        self.store.writer().replace_accounts(
            self._run_id,
            as_of,
            touched,
            score_records,
            parents,
            rollup_records,
            progress=(CONSUMER, work.through),
            within=lambda conn: replace_some_features(
                conn, work.frame, as_of, loaded.version, touched
            ),
        )
        self._scores, self._reasons = merged, reasons
        return Step(as_of, len(touched), False, work.through, work.touched)

    def close(self) -> None:
        """Mark the live run complete and release the data."""
        if self._run_id is not None:
            self.store.writer().finish(self._run_id)
        self.reader.close()


@dataclass(frozen=True)
class Backlog:
    """What the live scores do not include yet, read from the stores (any process can ask)."""

    store: HealthStore
    ingested: IngestedStore

    def rescored(self) -> int:
        """The last batch the live scores include."""
        return read_progress(self.store.engine, CONSUMER)

    def pending(self) -> int:
        """Committed batches the live scores do not include yet."""
        return self.ingested.last_sequence() - self.rescored()

    def lag(self) -> float:
        """Seconds since the oldest batch the live scores do not include was committed (0 when
        there is none)."""
        done = self.rescored()
        if done >= self.ingested.last_sequence():
            return 0.0
        try:
            received = self.ingested.batch(done + 1).received_at
        except CompactedAway:  # folded since (progress written by another worker): received
            # before its range was folded, so at least that long ago
            received = next(r.batch.received_at for r in self.ingested.ranges() if r.last > done)
        return max(0.0, (datetime.now(UTC) - datetime.fromisoformat(received)).total_seconds())


def _rolled_up(scores: pd.DataFrame) -> pd.DataFrame:
    """The columns of the scores that roll-ups read: the live scores keep only these (their
    reasons' JSON, kilobytes per account, would be copied at every step)."""
    return scores[list(ROLLED_UP)]


def _among(ids: pd.Series, accounts: Collection[str]) -> np.ndarray:
    """Which of ``ids`` are among ``accounts`` (missing ids are not). Arrow's ``is_in``: pandas'
    ``isin`` on text converts each wanted value on its own, tens of milliseconds per call at
    thousands of accounts."""
    column = pa.array(ids)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        # no text to match (e.g. a tree without parents: all missing), or not plain text
        return ids.isin(list(accounts)).to_numpy(dtype=bool)
    wanted = pa.array(list(accounts), type=pa.string()).cast(column.type)
    return pc.is_in(column, value_set=wanted).to_numpy(zero_copy_only=False)


def _in_order(frame: pd.DataFrame, accounts: set[str]) -> pd.DataFrame:
    """The rows of ``accounts``, by account id as a batch run orders them (each account's own
    rows keep their order)."""
    rows = frame[_among(frame["account_id"], accounts)]
    return rows.sort_values("account_id", kind="stable", ignore_index=True)
