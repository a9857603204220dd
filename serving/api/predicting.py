"""``POST /v1/predict`` behind the router: resolve each account's features, score, build JSON.

Accounts sent with ``features`` are checked strictly against the loaded model (every bad field is
a 422 with its path, the whole request refused): a missing or mistyped field, a key the model does
not read, a number that is not finite or below its feature's minimum (a negative count or
``tenure_days``). Accounts sent by id use their newest stored vector, checked as the model checks
records (extra keys, e.g. from an older model, are fine), and an id without one, or whose vector
does not fit the model, gets its own 404 / 409 entry while the rest of the batch is scored. The
response is built as plain dicts and encoded once by pydantic-core's JSON writer; it follows
:class:`~vitals.serving.api.predict_schemas.PredictResponse`, which the API tests validate it
against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic_core import to_json

from vitals.serving.api.holder import ServingModel
from vitals.serving.api.predict_schemas import AccountInput
from vitals.serving.api.vector_cache import VectorCache

MAX_REPORTED_ERRORS = 100


def predict_accounts(
    served: ServingModel,
    vectors: VectorCache,
    accounts: Sequence[AccountInput],
    top_k: int,
    max_batch: int,
) -> tuple[bytes, int]:
    """Score a batch and encode the response.

    Args:
        served: the model for this request.
        vectors: where stored feature vectors are read.
        accounts: the request's accounts, in order.
        top_k: reasons per account.
        max_batch: most accounts allowed in one request.

    Returns:
        ``(JSON body, number of accounts scored)``.

    Raises:
        RequestValidationError: too many accounts, or features the model cannot score.
    """
    if len(accounts) > max_batch:
        raise RequestValidationError(
            [_error(("body", "accounts"), "too_long", f"at most {max_batch} accounts per request")]
        )
    model = served.model
    errors: list[dict[str, Any]] = []
    for i, account in enumerate(accounts):
        if account.features is not None:
            for p in model.check_record(account.features, strict=True):
                errors.append(
                    _error(("body", "accounts", i, "features", p.field), p.kind, p.message)
                )
    if errors:
        raise RequestValidationError(errors[:MAX_REPORTED_ERRORS])

    wanted = [a.account_id for a in accounts if a.features is None]
    stored = vectors.newest(wanted) if wanted else {}
    results: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    scored_at: list[int] = []
    for account in accounts:
        if account.features is not None:
            entry = {
                "account_id": account.account_id,
                "status": 200,
                "source": "request",
                "features_as_of": None,
            }
            rows.append(account.features)
        elif (vector := stored.get(account.account_id)) is None:
            entry = _failure(
                account.account_id, 404, f"no stored features for account {account.account_id!r}"
            )
        elif found := model.check_record(vector.features):
            fields = ", ".join(sorted({p.field for p in found})[:10])
            entry = _failure(
                account.account_id,
                409,
                f"the stored features of {vector.as_of} (model {vector.model_version})"
                f" do not fit model {served.version}: {fields}",
            )
        else:
            entry = {
                "account_id": account.account_id,
                "status": 200,
                "source": "stored",
                "features_as_of": vector.as_of.isoformat(),
            }
            rows.append(vector.features)
        if entry["status"] == 200:
            scored_at.append(len(results))
        results.append(entry)
    for position, scored in zip(scored_at, model.explain_records(rows, top_k), strict=True):
        results[position].update(
            profile=scored.profile,
            churn_probability=scored.churn_probability,
            health_score=scored.health_score,
            band=scored.band,
            baseline_score=scored.baseline_score,
            reasons=scored.reasons,
            curve=[
                {"days": days, "risk": risk, "survival": 1.0 - risk}
                for days, risk in scored.risk.items()
                if risk is not None
            ],
            renewal_risk=scored.renewal_risk,
            error=None,
        )
    body = {"model_version": served.version, "results": results}
    return to_json(body, inf_nan_mode="null"), len(rows)


def _failure(account_id: str, status: int, message: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "status": status,
        "source": None,
        "features_as_of": None,
        "profile": None,
        "churn_probability": None,
        "health_score": None,
        "band": None,
        "baseline_score": None,
        "reasons": [],
        "error": message,
    }


def _error(loc: tuple[Any, ...], kind: str, message: str) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": message}
