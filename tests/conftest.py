"""Set-up for every test: no MLflow store or registry carried over from an earlier test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import mlflow
import pytest


@pytest.fixture(autouse=True)
def _fresh_mlflow_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear MLflow's registry global; drop ``MLFLOW_*`` variables MLflow set during the test.

    ``mlflow.set_tracking_uri`` and ``set_registry_uri`` also write ``MLFLOW_TRACKING_URI`` and
    ``MLFLOW_REGISTRY_URI`` into the environment, which would point later tests at this one's store.
    """
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    before = {name for name in os.environ if name.startswith("MLFLOW_")}
    mlflow.set_registry_uri("")
    yield
    mlflow.set_registry_uri("")
    for name in [n for n in os.environ if n.startswith("MLFLOW_") and n not in before]:
        del os.environ[name]
