"""The one place that points this process's MLflow at Vitals' tracking store and registry.

Store, first found wins: ``MLFLOW_TRACKING_URI`` (as everywhere in MLflow), then
``mlflow.tracking_uri`` of the settings (``vitals.toml`` or ``VITALS_MLFLOW__TRACKING_URI``),
then the embedded SQLite store ``<cwd>/mlruns/mlflow.db``. The registry is
``mlflow.registry_uri`` of the settings (``VITALS_MLFLOW__REGISTRY_URI``) or the tracking store.
``MLFLOW_REGISTRY_URI`` is not read: MLflow itself writes the variable whenever a registry is
set, so in a process that switches stores (tests, notebooks) it would pin the first one.

Every command and the API server call :func:`use_store` before their first MLflow call. It sets
both URIs for the whole process, because some MLflow functions (alias resolution inside
``download_artifacts`` among them) ignore the URIs passed to them and fall back to the default
store, which MLflow would create as an empty ``./mlflow.db``. Reading from a SQLite store that
does not exist is refused with :class:`StoreMissingError` instead of creating one.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

from vitals.config.settings import MlflowSettings, get_settings

TRACKING_ENV = "MLFLOW_TRACKING_URI"
STORE_DIR = "mlruns"
_SQLITE = "sqlite:///"


class StoreError(RuntimeError):
    """The MLflow store cannot be used (missing folder, unreachable server)."""


class StoreMissingError(StoreError):
    """A command that only reads MLflow found no store where the settings point."""


def tracking_uri(settings: MlflowSettings | None = None) -> str:
    """The tracking store this process uses (a relative SQLite path made absolute)."""
    configured = settings or get_settings().mlflow
    uri = os.environ.get(TRACKING_ENV) or configured.tracking_uri
    if not uri:
        return f"{_SQLITE}{Path.cwd() / STORE_DIR / 'mlflow.db'}"
    return _absolute_sqlite(uri)


def registry_uri(settings: MlflowSettings | None = None) -> str:
    """The model registry this process uses: its own setting, else the tracking store."""
    configured = settings or get_settings().mlflow
    uri = configured.registry_uri
    return _absolute_sqlite(uri) if uri else tracking_uri(configured)


def use_store(*, create: bool = False) -> str:
    """Point MLflow at the configured store and registry for the rest of this process.

    Args:
        create: make the folder of an embedded SQLite store (commands that write: ``train``,
            ``demo``); otherwise a missing SQLite store is an error, never a new empty one.

    Returns:
        The tracking URI.

    Raises:
        StoreMissingError: a reading command and no SQLite store at the configured path.
        StoreError: a tracking server that does not answer, or a folder that cannot be made.
    """
    import mlflow

    tracking, registry = tracking_uri(), registry_uri()
    for uri in dict.fromkeys((tracking, registry)):
        _check(uri, create=create)
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)
    return tracking


def _check(uri: str, *, create: bool) -> None:
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
        return
    if not uri.startswith(_SQLITE):
        return
    database = Path(uri.removeprefix(_SQLITE))
    if create:
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot create the MLflow store folder {database.parent}: {error}"
            ) from None
    elif not database.is_file():
        raise StoreMissingError(
            f"the MLflow store {uri} does not exist (nothing trained here yet): run `vitals "
            f"train --register` first, run the command in the folder that holds {STORE_DIR}/, "
            f"or set {TRACKING_ENV}"
        )


def _absolute_sqlite(uri: str) -> str:
    if not uri.startswith(_SQLITE):
        return uri
    return f"{_SQLITE}{Path(uri.removeprefix(_SQLITE)).expanduser().absolute()}"


def _check_server(uri: str) -> None:
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except (urllib.error.URLError, OSError) as error:
        problem = str(getattr(error, "reason", error))
    raise StoreError(
        f"cannot reach the MLflow tracking server at {uri} ({problem}): start it, fix "
        f"{TRACKING_ENV}, or unset it to use the embedded store under ./{STORE_DIR}"
    )


def read_run_artifacts(run_id: str, paths: list[str]) -> dict[str, bytes]:
    """The bytes of a run's artifacts by path, from the configured store; absent ones left out.

    Raises:
        StoreError: the store cannot be used, or the run cannot be read.
    """
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    use_store()
    found: dict[str, bytes] = {}
    try:
        client = MlflowClient()
        present: set[str] = set()
        for folder in {str(PurePosixPath(p).parent) for p in paths}:
            listed = client.list_artifacts(run_id, None if folder == "." else folder)
            present.update(item.path for item in listed)
        with tempfile.TemporaryDirectory(prefix="vitals-run-") as tmp:
            for path in (p for p in paths if p in present):
                local = download_artifacts(run_id=run_id, artifact_path=path, dst_path=tmp)
                found[path] = Path(local).read_bytes()
    except (MlflowException, OSError) as exc:
        raise StoreError(f"cannot read the artifacts of run {run_id}: {exc}") from exc
    return found
