"""Fixtures of the serving tests: sample data, a fitted model, and stores on SQLite and PostgreSQL.

No test touches the shared ``vitals.db`` or ``mlruns/``: every test gets its own store URL and
MLflow tracking URI under ``tmp_path``, and no developer's ``vitals.toml`` is read (``_isolated``
and ``sample_dir`` come from :mod:`kit`, shared with the API tests).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kit import (
    fit_model,
    isolated_environment,  # noqa: F401  (the autouse fixture _isolated)
    sample_data_dir,  # noqa: F401  (the fixture sample_dir)
    training_snapshots,
)
from pgserver import PostgresServer, find_bindir, start_server

from vitals.features.build import Snapshots
from vitals.models.health_model import HealthModel


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects on markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the PostgreSQL runs of ``database_url`` tests ``postgres``.

    Done here rather than with ``pytest.param(marks=...)``, which would name the marker when this
    file is imported, before :func:`pytest_configure` has registered it.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgres":
            item.add_marker("postgres")


@pytest.fixture(scope="session")
def sample_snapshots(sample_dir: Path) -> Snapshots:
    return training_snapshots(sample_dir)


@pytest.fixture(scope="session")
def health_model(sample_snapshots: Snapshots) -> HealthModel:
    return fit_model(sample_snapshots, "test-1", rounds=15)


@pytest.fixture(scope="session")
def model_dir(health_model: HealthModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return health_model.save(tmp_path_factory.mktemp("model") / "health_model")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway server for the session; skipped locally without binaries, failed in CI."""
    bindir = find_bindir()
    reason = None
    if bindir is None:
        reason = "no PostgreSQL server binaries (initdb, pg_ctl): scripts/test.sh installs them"
    elif importlib.util.find_spec("psycopg") is None:
        reason = "the psycopg driver is not installed: pip install 'psycopg[binary]'"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = start_server(bindir)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database on the session's server."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/vitals.db"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/vitals.db"
    return request.getfixturevalue("postgres_url")
