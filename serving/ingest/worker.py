"""The re-scoring worker: a thread that keeps the live scores up with the ingested batches.

It runs as ``vitals worker`` (which ``vitals serve --data`` starts beside the server), or inside
an app built with ``ingest.rescore_in_server``. Each turn takes in every batch committed since the
last one, so an account touched by many batches is re-scored once per turn (batching); the
back-pressure is on the ingestion side, which answers 503 while more than ``ingest.queue_batches``
batches wait or the oldest has waited ``ingest.max_lag_seconds``.

A turn reads its data, then scores and stores it; the next turn reads after that, so it takes
in every batch committed while this one was scored. Reading the next turn's data while scoring
the last one (as the worker once did) gave no shorter delay from a batch's acknowledgement to its
score, and in most runs a longer one, for more CPU: on two cores shared with the server, the two
halves slowed each other down, and the data read ahead waited for the scoring, growing older.
A failing turn is logged and tried again after a pause that doubles up to a minute; the next
turn then scores everyone, which covers whatever the failed one had taken in.

After a step, once ``compact_after`` batches it has taken in wait outside a range, the worker
folds that many into one (:mod:`vitals.features.compaction`), so that loading the data stays
fast; a longer backlog (a store from before compaction) is folded a range per step. Ranges are
then merged in tiers (:func:`~vitals.features.compaction.merge`), so that their number grows
with the logarithm of the batches taken in.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from vitals.features.compaction import compact, merge
from vitals.serving.batch.model_source import LoadedModel
from vitals.serving.ingest.rescoring import Rescorer, Step

logger = logging.getLogger(__name__)

_MAX_PAUSE = 60.0


@dataclass
class WorkerState:
    """What the worker last did: its last step and its last error (``None`` once it recovers)."""

    last_step: Step | None = None
    error: str | None = None
    steps: int = 0


class RescoringWorker:
    """Runs :meth:`Rescorer.step` in a thread until stopped.

    Args:
        rescorer: what keeps the scores (owned by the worker: closed when it stops).
        model: gives the model to score with (``None`` while none is loaded).
        every: seconds between turns when nothing is new.
        on_step: called after each step that did something (e.g. to raise alerts).
        compact_after: fold the batches re-scored into a range once this many wait (0: never).
    """

    def __init__(
        self,
        rescorer: Rescorer,
        model: Callable[[], LoadedModel | None],
        every: float,
        on_step: Callable[[Step, LoadedModel], None] | None = None,
        compact_after: int = 0,
    ) -> None:
        self.rescorer = rescorer
        self.model = model
        self.every = every
        self.on_step = on_step
        self.compact_after = compact_after
        self.state = WorkerState()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vitals-rescoring", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop, wait for its current turn, and close the rescorer."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():  # its data and live run are still in use: left as they are
            logger.warning("re-scoring did not stop within %.0f s", timeout)
            return
        self.rescorer.close()

    def turn(self) -> Step | None:
        """One turn: take in new batches and update the scores (``None``: nothing to do)."""
        loaded = self.model()
        if loaded is None:
            return None
        step = self.rescorer.step(loaded)
        if step is not None:
            self._done(step, loaded)
        return step

    def _done(self, step: Step, loaded: LoadedModel) -> None:
        self.state.last_step = step
        self.state.steps += 1
        if step.full:
            # the live scores of everyone stay until the next full step: the collector need not
            # walk them again at each step (a full collection cost about 0.2 s every few steps)
            gc.unfreeze()
            gc.collect()
            gc.freeze()
        if self.on_step is not None:
            self.on_step(step, loaded)
        if self.compact_after:
            self._compact(step.through)

    def _compact(self, through: int) -> None:
        """Fold the batches up to ``through`` into a range when enough wait. A failure is
        logged and left for the next step: the scores are up to date either way."""
        try:
            ingested, size = self.rescorer.ingested, self.compact_after
            folded = compact(ingested, through, at_least=size, at_most=size)
            if folded is not None:
                logger.info("ingested batches up to %d folded into a range", folded.sequence)
                while (merged := merge(ingested)) is not None:  # a level full: the next one
                    logger.info("ranges of batches %d-%d merged", merged.first, merged.last)
        except Exception:
            logger.exception("folding or merging ingested batches failed; trying again later")

    def _run(self) -> None:
        pause = self.every
        while not self._stop.is_set():
            try:
                step = self.turn()
            except Exception as exc:
                logger.exception("re-scoring failed; trying again in %.0f s", pause)
                self.state.error = f"{type(exc).__name__}: {exc}"
                self.rescorer.reader.restart()  # whatever failed, the next step scores everyone
                self._stop.wait(pause)
                pause = min(_MAX_PAUSE, pause * 2)
                continue
            self.state.error = None
            pause = self.every
            if step is None:
                self._stop.wait(self.every)
