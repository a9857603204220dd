"""Starting ingestion and the re-scoring worker beside a server (or on their own)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from vitals.config.settings import Settings
from vitals.features.ingested import IngestedStore
from vitals.features.pipeline import load_valid_dataset
from vitals.models.playbook import Playbook, configured_playbook
from vitals.serving.alerts.raise_alerts import raise_alerts
from vitals.serving.batch.model_source import LoadedModel, load_model, registered_version
from vitals.serving.ingest.ingestor import Ingestor
from vitals.serving.ingest.rescoring import Rescorer, Step
from vitals.serving.ingest.worker import RescoringWorker
from vitals.serving.store import HealthStore

logger = logging.getLogger(__name__)


def alerting(store: HealthStore, settings: Settings) -> Callable[[Step, LoadedModel], None]:
    """What to do after each re-scoring step: raise the alerts of the accounts it re-scored (all
    of them after a full step). A failure is logged: alerts never stop re-scoring."""

    playbooks: dict[str, Playbook] = {}  # by model version: rules may name its own features

    def after(step: Step, loaded: LoadedModel) -> None:
        if not settings.alerts.rules:
            return
        accounts = step.touched if not step.full else None
        try:
            if loaded.version not in playbooks:
                features = loaded.model.feature_names_
                playbooks[loaded.version] = configured_playbook(settings, features=features)
            raised = raise_alerts(
                store,
                settings.alerts,
                loaded.model,
                step.as_of,
                accounts,
                playbook=playbooks[loaded.version],
            )
        except Exception:
            logger.exception("raising the alerts of %s failed", step.as_of)
            return
        if raised:
            logger.info("%d alerts raised as of %s", len(raised), step.as_of)

    return after


class FollowedModel:
    """The model ``spec`` names, reloaded when the registry moves it (checked every ``every``
    seconds): what a worker process scores with, following the server's champion.

    Args:
        spec: alias of ``vitals-health``, MLflow URI or model directory.
        every: seconds between two checks of the registry.
    """

    def __init__(self, spec: str, every: float = 60.0) -> None:
        self.spec = spec
        self.every = every
        self.loaded = load_model(spec)
        self._checked = time.monotonic()

    def __call__(self) -> LoadedModel:
        """The model to score with now."""
        if time.monotonic() - self._checked >= self.every:
            self._checked = time.monotonic()
            try:
                version = registered_version(self.spec)
            except Exception:  # the registry may be down for a moment: keep scoring
                logger.warning("cannot check %s in the registry", self.spec, exc_info=True)
                return self.loaded
            if version is not None and version != self.loaded.version:
                self.loaded = load_model(self.spec)
                logger.info("re-scoring with %s now", self.loaded.version)
        return self.loaded


@dataclass
class Ingestion:
    """The ingestor of a data directory and, when asked for, its re-scoring worker."""

    ingestor: Ingestor
    worker: RescoringWorker | None

    def stop(self) -> None:
        """Stop the worker and release the data both hold."""
        if self.worker is not None:
            self.worker.stop()
        self.ingestor.close()


def start_ingestion(
    settings: Settings,
    store: HealthStore,
    model: Callable[[], LoadedModel | None],
) -> Ingestion | None:
    """Open ingestion for ``settings.ingest.data_dir`` and start its worker thread (unless
    ``ingest.rescore_in_server`` is off).

    Returns:
        ``None`` when no data directory is configured (the server does not ingest).

    Raises:
        vitals.features.pipeline.PipelineError: the data directory fails validation.
    """
    data_dir = settings.ingest.data_dir
    if data_dir is None:
        return None
    ingestor = Ingestor(data_dir, settings.ingest)
    worker = None
    if settings.ingest.rescore_in_server:
        worker = start_worker(settings, store, model)
    logger.info("ingesting for %s into %s", data_dir, settings.ingest.store_dir)
    return Ingestion(ingestor, worker)


def start_worker(
    settings: Settings,
    store: HealthStore,
    model: Callable[[], LoadedModel | None],
    *,
    start: bool = True,
) -> RescoringWorker:
    """The re-scoring worker of ``settings.ingest.data_dir``, started in a thread unless not
    ``start`` (then the caller runs :meth:`RescoringWorker.turn` itself). Each step raises the
    alerts of the accounts it re-scored (:func:`alerting`).

    Raises:
        ValueError: no data directory is configured.
        vitals.features.pipeline.PipelineError: the data directory fails validation.
    """
    data_dir = settings.ingest.data_dir
    if data_dir is None:
        raise ValueError("re-scoring needs a data directory (ingest.data_dir, or --data DIR)")
    rescorer = Rescorer(
        store, load_valid_dataset(data_dir), IngestedStore(settings.ingest.store_dir, data_dir)
    )
    every = settings.ingest.rescore_every_seconds
    worker = RescoringWorker(
        rescorer, model, every, alerting(store, settings), settings.ingest.compact_after
    )
    if start:
        worker.start()
    return worker
