"""A worker process follows the registry: it reloads when the alias moves, and only then."""

from __future__ import annotations

import pytest

from vitals.serving.batch.model_source import LoadedModel
from vitals.serving.ingest import runtime


def test_the_worker_reloads_when_the_alias_moves_and_survives_a_registry_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = {"version": "vitals-health/1"}
    loads: list[str] = []

    def load(spec: str) -> LoadedModel:
        loads.append(registry["version"])
        return LoadedModel(model=None, uri=spec, version=registry["version"])  # type: ignore[arg-type]

    def version(spec: str) -> str:
        if registry["version"] == "down":
            raise RuntimeError("registry down")
        return registry["version"]

    monkeypatch.setattr(runtime, "load_model", load)
    monkeypatch.setattr(runtime, "registered_version", version)
    followed = runtime.FollowedModel("champion", every=0.0)
    assert followed().version == "vitals-health/1" and loads == ["vitals-health/1"]
    assert followed().version == "vitals-health/1" and len(loads) == 1  # same version: no load
    registry["version"] = "vitals-health/2"
    assert followed().version == "vitals-health/2" and len(loads) == 2
    registry["version"] = "down"
    assert followed().version == "vitals-health/2" and len(loads) == 2
