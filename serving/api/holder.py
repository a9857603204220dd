"""The served model and the holder that swaps it atomically on reload.

A request takes one reference to :attr:`ModelHolder.current` at its start and uses only that
object, so a reload (which builds the new :class:`ServingModel` completely, then replaces the
reference under a lock) never changes the model under a request in flight: those finish on the
old one, the next ones start on the new one, and none fails.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vitals.config.mlflow_store import StoreError, read_run_artifacts
from vitals.models.health_model import HealthModel
from vitals.serving.batch.model_source import LoadedModel, load_model

logger = logging.getLogger(__name__)

REPORT_ARTIFACT = "report.json"  # written by training next to each run's model


@dataclass(frozen=True)
class ServingModel:
    """A loaded model with everything a request needs.

    Attributes:
        model: the fitted health model.
        version: its version, recorded with every score (``vitals-health/3``).
        uri: where it was loaded from.
        loaded_at: when this process loaded it.
        evaluation: overall test-window metrics of its training run, when they can be read.
    """

    model: HealthModel
    version: str
    uri: str
    loaded_at: datetime
    evaluation: dict[str, Any] | None


def serving_model(loaded: LoadedModel) -> ServingModel:
    """Wrap a loaded model for serving (warms its kernels up, reads its evaluation summary)."""
    loaded.model.warm_up()
    return ServingModel(
        loaded.model, loaded.version, loaded.uri, datetime.now(UTC), _evaluation(loaded.model)
    )


def registry_loader(spec: str) -> Callable[[], ServingModel]:
    """A loader of the model ``spec`` names (alias, MLflow URI or directory), as it is now."""
    return lambda: serving_model(load_model(spec))


class ModelHolder:
    """Holds the served model; :meth:`reload` swaps it atomically.

    Args:
        loader: builds the model to serve (called by :meth:`reload`).
        initial: a model to serve before the first reload.
    """

    def __init__(
        self, loader: Callable[[], ServingModel], initial: ServingModel | None = None
    ) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._current = initial

    @property
    def current(self) -> ServingModel | None:
        """The model to use for one whole request (take it once, at the start)."""
        return self._current

    def reload(self) -> tuple[ServingModel | None, ServingModel]:
        """Load the model again and swap it in; concurrent reloads run one after the other.

        Returns:
            ``(previous, current)``.

        Raises:
            ModelNotFoundError: nothing to load; the served model stays as it was.
        """
        with self._lock:
            fresh = self._loader()
            previous, self._current = self._current, fresh
        logger.info(
            "serving model %s (was %s)", fresh.version, (previous and previous.version) or "none"
        )
        return previous, fresh


def _evaluation(model: HealthModel) -> dict[str, Any] | None:
    """The overall metrics of the model's training run report (``None`` when unavailable)."""
    run_id = model.metadata_.get("mlflow_run_id")
    if not run_id:
        return None
    try:
        found = read_run_artifacts(str(run_id), [REPORT_ARTIFACT])
        report = json.loads(found[REPORT_ARTIFACT])
    except (StoreError, KeyError, ValueError) as exc:
        logger.warning("no evaluation report for run %s: %s", run_id, exc)
        return None
    overall = report.get("models", {}).get("vitals", {}).get("overall")
    return {
        "test_window": report.get("test_window"),
        "horizon_days": report.get("horizon_days"),
        "overall": overall,
        "comparison": report.get("comparison"),
    }
