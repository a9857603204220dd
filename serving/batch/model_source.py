"""Finding the model to score with: a registry alias, an MLflow model URI, or a saved directory.

``--model`` accepts:

* an alias of the registered model ``vitals-health`` (``champion``, ``challenger``);
* ``NAME@ALIAS`` for another registered model;
* an MLflow URI (``models:/vitals-health/3``, ``models:/vitals-health@champion``,
  ``runs:/<run_id>/health_model``);
* a directory written by :meth:`vitals.models.health_model.HealthModel.save`.

The MLflow store is the one :func:`vitals.config.mlflow_store.use_store` sets for the process
(``MLFLOW_TRACKING_URI``, the settings, or ``mlruns/mlflow.db`` in the working directory); a
store that does not exist is an error, never a new empty one.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vitals.config.mlflow_store import StoreError, use_store
from vitals.models.health_model import HealthModel
from vitals.models.persistence import MANIFEST
from vitals.serving.batch.errors import ModelNotFoundError

logger = logging.getLogger(__name__)

REGISTERED_MODEL = "vitals-health"
DEFAULT_ALIAS = "champion"
_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)/?$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)/?$")
_RUN_URI = re.compile(r"^runs:/(?P<run>[^/]+)/")
_NAME_AT_ALIAS = re.compile(r"^(?P<name>[\w.-]+)@(?P<alias>[\w.-]+)$")


@dataclass(frozen=True)
class LoadedModel:
    """A model with where it came from.

    Attributes:
        model: the fitted health model.
        uri: what was loaded (MLflow URI or directory).
        version: the version recorded with every score, e.g. ``vitals-health/3``.
    """

    model: HealthModel
    uri: str
    version: str


def load_model(spec: str = DEFAULT_ALIAS) -> LoadedModel:
    """Load the model ``spec`` names (see the module docstring for the forms).

    Raises:
        ModelNotFoundError: nothing is registered or saved there, or it is not a health model.
    """
    if Path(spec).is_dir():
        return _from_directory(Path(spec))
    if "/" in spec and ":/" not in spec:
        raise ModelNotFoundError(f"--model {spec}: no such model directory")
    uri = _model_uri(spec)
    return _from_mlflow(uri)


def registered_version(spec: str) -> str | None:
    """The registry version ``spec`` names now (``NAME/VERSION``, an alias resolved), or ``None``
    for a model directory or a URI outside the registry. Cheap: nothing is loaded.

    Raises:
        mlflow.exceptions.MlflowException: the registry cannot answer.
    """
    if Path(spec).is_dir():
        return None
    return _registry_version(_model_uri(spec))


def _model_uri(spec: str) -> str:
    if ":/" in spec:
        return spec
    match = _NAME_AT_ALIAS.match(spec)
    if match:
        return f"models:/{match['name']}@{match['alias']}"
    return f"models:/{REGISTERED_MODEL}@{spec}"


def _from_directory(directory: Path) -> LoadedModel:
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise ModelNotFoundError(f"--model {directory}: not a saved health model (no {MANIFEST})")
    try:
        model = HealthModel.load(directory)
    except (ValueError, KeyError, OSError) as exc:
        raise ModelNotFoundError(f"--model {directory}: cannot load the model: {exc}") from None
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()[:12]
    version = str(model.metadata_.get("model_version") or f"dir-{digest}")
    return LoadedModel(model, str(directory.resolve()), version)


def _from_mlflow(uri: str) -> LoadedModel:
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    from vitals.models.mlflow_adapter import load_health_model

    try:
        store = use_store()
    except StoreError as exc:
        raise ModelNotFoundError(f"no model at {uri}: {exc}") from None
    try:
        version = _registry_version(uri)
        with tempfile.TemporaryDirectory(prefix="vitals-model-") as tmp:
            local = download_artifacts(artifact_uri=uri, dst_path=tmp)
            model = load_health_model(local)
    except MlflowException as exc:
        raise ModelNotFoundError(_not_found(uri, store, exc)) from None
    except (AttributeError, OSError, ValueError) as exc:
        raise ModelNotFoundError(f"{uri} is not a Vitals health model: {exc}") from None
    if version is None:
        run = _RUN_URI.match(uri)
        version = str(model.metadata_.get("model_version") or (run and f"run-{run['run']}") or uri)
    logger.info("loaded %s (version %s) from %s", uri, version, store)
    return LoadedModel(model, uri, version)


def _registry_version(uri: str) -> str | None:
    """``NAME/VERSION`` of a registry URI (an alias resolved now), ``None`` for other URIs."""
    from mlflow import MlflowClient

    if match := _VERSION_URI.match(uri):
        return f"{match['name']}/{match['version']}"
    if match := _ALIAS_URI.match(uri):
        client = MlflowClient()
        found = client.get_model_version_by_alias(match["name"], match["alias"])
        return f"{match['name']}/{found.version}"
    return None


def _not_found(uri: str, store: str, exc: Exception) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    hint = (
        "train and register one first (`vitals train`), or pass --model with a model directory"
        if uri.startswith("models:/")
        else "check the URI"
    )
    return f"no model at {uri} in the MLflow store {store}: {detail}; {hint}"
