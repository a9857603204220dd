"""The reasons an alert carries: why the score changed, or the stored reasons of the new score.

An account alert compares the score at ``as_of`` with an earlier one (``reference_date``). With a
model, the change between them is explained exactly as ``GET /v1/accounts/{id}`` explains it
(:func:`vitals.serving.api.account_views.explained_change`, from the stored feature vectors of both
dates); without one, or when the vectors cannot explain it, the alert carries the top reasons
stored with the new score. A parent alert carries its stored reasons and the children pulling its
health down.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vitals.config.alerts import ParentRevenueRule
from vitals.models.health_model import HealthModel
from vitals.serving.alerts.rules import Hit
from vitals.serving.store import HealthScore, ParentHealth
from vitals.serving.store.features_table import read_latest_features

if TYPE_CHECKING:
    from vitals.serving.api.schemas import ScoreChange

_CHUNK = 2000  # ids per IN (...) list


def alert_details(
    session: Session, model: HealthModel | None, hits: Sequence[Hit], top_k: int
) -> list[dict[str, Any]]:
    """The ``details`` of each hit's alert, in order: the rule, the values before and after, and
    the reasons (``reasons_kind`` says whether they explain the ``change`` or the ``current``
    score); an account's also carry its health ``profile``.

    Args:
        session: a session on the store.
        model: explains account changes; ``None`` for the stored reasons.
        hits: fired rules, all at the same ``as_of``.
        top_k: reasons kept per alert.
    """
    accounts = [h for h in hits if h.subject_kind == "account"]
    stored = _stored_accounts(session, accounts)
    changes = _changes(session, model, accounts, top_k)
    details = []
    for hit in hits:
        base = {
            "rule": hit.rule.model_dump(mode="json"),
            "reference_date": hit.reference_date and hit.reference_date.isoformat(),
            "before": hit.before,
            "after": hit.after,
        }
        if hit.subject_kind == "parent":
            details.append({**base, **_parent_reasons(session, hit, top_k)})
            continue
        profile, current = stored.get(hit.subject_id, (None, []))
        base["profile"] = profile
        change = changes.get((hit.subject_id, hit.reference_date))
        if change is not None:
            base["change"] = change.model_dump(mode="json", exclude={"reasons"})
        if change is not None and change.explained:
            reasons = [r.model_dump(mode="json") for r in change.reasons]
            details.append({**base, "reasons_kind": "change", "reasons": reasons})
        else:
            reasons = current[:top_k]
            details.append({**base, "reasons_kind": "current", "reasons": reasons})
    return details


def _changes(
    session: Session, model: HealthModel | None, hits: Sequence[Hit], top_k: int
) -> dict[tuple[str, date | None], ScoreChange]:
    """The explained change of each (account, reference date) of the hits."""
    if model is None or not hits:
        return {}
    # imported here: the API package starts the ingestion worker, which raises alerts
    from vitals.serving.api.account_views import explained_change
    from vitals.serving.api.holder import ServingModel
    from vitals.serving.api.schemas import ScoreChange

    version = str(model.metadata_.get("model_version") or "unversioned")
    served = ServingModel(model, version, "in-process", datetime.now(UTC), None)
    as_of = hits[0].as_of
    vectors = read_latest_features(session, [h.subject_id for h in hits], on_or_before=as_of)
    changes: dict[tuple[str, date | None], ScoreChange] = {}
    for hit in hits:
        key = (hit.subject_id, hit.reference_date)
        if hit.reference_date is None or key in changes:
            continue
        then, now = hit.before["health_score"], hit.after["health_score"]
        change = ScoreChange(
            since_days=(as_of - hit.reference_date).days,
            reference_date=hit.reference_date,
            score_then=then,
            score_now=now,
            score_change=now - then,
            band_then=hit.before["band"],
            band_now=hit.after["band"],
            explained=False,
        )
        vector = vectors.get(hit.subject_id)
        current = vector if vector is not None and vector.as_of == as_of else None
        changes[key] = explained_change(session, served, current, hit.reference_date, change, top_k)
    return changes


def _stored_accounts(
    session: Session, hits: Sequence[Hit]
) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """The profile and the stored reasons of each hit's account at the hits' date."""
    ids = sorted({h.subject_id for h in hits})
    found: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for start in range(0, len(ids), _CHUNK):
        query = select(HealthScore.account_id, HealthScore.profile, HealthScore.reasons).where(
            HealthScore.as_of == hits[0].as_of,
            HealthScore.account_id.in_(ids[start : start + _CHUNK]),
        )
        for account, profile, reasons in session.execute(query):
            found[account] = (profile, list(reasons))
    return found


def _parent_reasons(session: Session, hit: Hit, top_k: int) -> dict[str, Any]:
    assert isinstance(hit.rule, ParentRevenueRule)  # the only rule about parents
    key = {
        "parent_id": hit.subject_id,
        "as_of": hit.as_of,
        "model_version": hit.model_version,
        "weighting": hit.rule.weighting,
    }
    row = session.get(ParentHealth, key)
    if row is None:
        return {"reasons_kind": "current", "reasons": [], "pulling_down": []}
    return {
        "reasons_kind": "current",
        "reasons": list(row.reasons)[:top_k],
        "pulling_down": list(row.pulling_down)[:top_k],
    }
