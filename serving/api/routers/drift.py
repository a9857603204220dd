"""``GET /v1/model/drift``: feature and calibration drift of the served model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from vitals.config.drift import DriftSettings
from vitals.serving.api.deps import ModelDep, ReadKey, StoreDep
from vitals.serving.api.drift_monitor import DriftMonitor
from vitals.serving.api.drift_schemas import DriftPublic
from vitals.serving.api.schemas import problems

router = APIRouter(prefix="/v1/model", tags=["model"])


async def get_monitor(request: Request) -> DriftMonitor:
    """The app's drift monitor, made on first use (its gauges join the app's metrics)."""
    state = request.app.state
    monitor = getattr(state, "drift_monitor", None)
    if monitor is None:  # dependencies run on the event loop, one at a time: no race
        monitor = state.drift_monitor = DriftMonitor(state.metrics.registry)
    return monitor


async def get_limits(request: Request) -> DriftSettings:
    """The drift limits of the app's settings."""
    return request.app.state.settings.drift


MonitorDep = Annotated[DriftMonitor, Depends(get_monitor)]
LimitsDep = Annotated[DriftSettings, Depends(get_limits)]


@router.get("/drift", response_model=DriftPublic, responses=problems(401, 403, 503))
def model_drift(
    _: ReadKey,
    served: ModelDep,
    store: StoreDep,
    monitor: MonitorDep,
    limits: LimitsDep,
    bins: Annotated[
        bool, Query(description="add each feature's shares per bin (training vs now)")
    ] = False,
) -> DriftPublic:
    """Drift of the served model: per feature, the population stability index between its
    training window and the latest scored date; per health profile, predicted against observed
    churn once outcomes are known (as last computed by ``vitals evaluate --drift --data DIR``).

    ``warnings`` lists every limit of the settings (``[drift]`` in ``vitals.toml``) passed; each
    is also logged, and the values are exported as the Prometheus gauges ``vitals_feature_psi``
    and ``vitals_calibration_gap``.
    """
    report = monitor.report(store, served, limits)
    return DriftPublic.model_validate(report.to_dict(bins=bins))
