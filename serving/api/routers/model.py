"""``GET /v1/model`` and ``POST /v1/model/reload``: what is served, and swapping in the champion."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from vitals.serving.api.deps import AdminKey, HolderDep, MetricsDep, ModelDep, ReadKey
from vitals.serving.api.holder import ServingModel
from vitals.serving.api.schemas import ModelInfo, ProfileInfo, ReloadResult, problems
from vitals.serving.batch import ModelNotFoundError

router = APIRouter(prefix="/v1/model", tags=["model"])


@router.get("", response_model=ModelInfo, responses=problems(401, 403, 503))
def model_info(_: ReadKey, served: ModelDep) -> ModelInfo:
    """The loaded model's version, training window and evaluation summary."""
    return describe(served)


@router.post("/reload", response_model=ReloadResult, responses=problems(401, 403, 503))
def reload_model(_: AdminKey, holder: HolderDep, metrics: MetricsDep) -> ReloadResult:
    """Load the current ``champion`` and swap it in atomically (admin).

    Requests in flight finish on the model they started with; none fails. When the new model
    cannot be loaded the old one stays and the answer is 503.
    """
    try:
        previous, current = holder.reload()
    except ModelNotFoundError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    metrics.serving(current.version)
    return ReloadResult(
        previous_version=previous.version if previous is not None else None,
        version=current.version,
        changed=previous is None or previous.version != current.version,
        loaded_at=current.loaded_at,
    )


def describe(served: ServingModel) -> ModelInfo:
    """The public facts of a served model."""
    model = served.model
    return ModelInfo(
        version=served.version,
        uri=served.uri,
        loaded_at=served.loaded_at,
        horizon_days=model.feature_set_.horizon_days,
        n_features=len(model.feature_names_),
        profiles=[
            ProfileInfo(
                name=name, pooled=p.piece.pooled, band_good=p.bands.good, band_poor=p.bands.poor
            )
            for name, p in model.profiles_.items()
        ],
        training_window=model.metadata_.get("windows"),
        evaluation=served.evaluation,
    )
