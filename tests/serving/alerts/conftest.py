"""Fixtures of the alert tests: an empty migrated store per test (sample data, the fitted model and
the isolated environment come from :mod:`tests.serving.conftest`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vitals.serving.store import HealthStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HealthStore]:
    opened = HealthStore.open(f"sqlite:///{tmp_path}/alerts.db")
    yield opened
    opened.close()
