"""An account's stored health, history and the reasons its score changed.

Reasons for a change versus N days ago are computed, not stored: the loaded model's
:meth:`~vitals.models.health_model.HealthModel.explain_change` runs on the account's stored feature
vectors (``account_features``) of the two dates, so the reasons add up exactly to the change the
loaded model sees between them (``explained_change``). The stored scores of both dates are shown
beside it; they can differ from the loaded model's when the dates were scored by another model
version. Without a stored vector for either date the change is reported unexplained, with a note.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from vitals.models.frames import ACCOUNT_ID
from vitals.models.playbook import Playbook
from vitals.models.reasons import risk_sentences
from vitals.models.survival import HORIZONS
from vitals.serving.api.holder import ServingModel
from vitals.serving.api.people_schemas import BandOverrideView
from vitals.serving.api.schemas import (
    AccountDetail,
    AccountSummary,
    ChangeReason,
    CurvePoint,
    HistoryPoint,
    NextStep,
    Reason,
    RiskChangeReason,
    RiskReason,
    ScorecardView,
    ScoreChange,
)
from vitals.serving.people.overrides import active_overrides
from vitals.serving.store import HealthRepository, HealthScore
from vitals.serving.store.features_table import StoredFeatures, read_latest_features


def stored_reasons(items: list[dict[str, Any]]) -> list[Reason]:
    """Reasons as the batch stored them (JSON), in the API's shape (older runs stored features
    without measures, values or breakdowns: those fields stay empty)."""
    return [
        Reason.model_validate({**r, "direction": "raises" if r["health_points"] > 0 else "lowers"})
        for r in items
    ]


def summary(row: HealthScore, change: float | None = None) -> AccountSummary:
    """A stored score row as an :class:`AccountSummary`."""
    points = curve(row)
    return AccountSummary(
        account_id=row.account_id,
        parent_id=row.parent_id,
        segment=row.segment,
        profile=row.profile,
        as_of=row.as_of,
        model_version=row.model_version,
        health_score=row.health_score,
        band=row.band,
        churn_probability=row.churn_probability,
        contract_value=row.contract_value,
        revenue_at_risk=row.revenue_at_risk,
        score_change=change,
        reasons=stored_reasons(row.reasons),
        curve=points,
        renewal_risk=row.renewal_risk,
        renewal_revenue_at_risk=row.renewal_revenue_at_risk,
        days_to_renewal=row.days_to_renewal,
        scorecard=scorecard_view(row),
        risk_context=risk_sentences(
            {p.days: p.risk for p in points},
            row.days_to_renewal,
            row.renewal_risk,
            row.renewal_revenue_at_risk,
        ),
    )


def scorecard_view(row: HealthScore) -> ScorecardView | None:
    """The stored scorecard score of a row (``None`` before scorecards, or without a card)."""
    score = getattr(row, "scorecard_score", None)
    if score is None or score != score:  # NULL or NaN: no card serves the profile
        return None
    return ScorecardView(score=score, band=row.scorecard_band, points=row.scorecard_points or [])


def with_overrides(session: Session, items: list[AccountSummary]) -> list[AccountSummary]:
    """The summaries with each account's band override in force now (``override``)."""
    found = active_overrides(session, [i.account_id for i in items], datetime.now(UTC))
    for item in items:
        if (row := found.get(item.account_id)) is not None:
            item.override = BandOverrideView.model_validate(row, from_attributes=True)
    return items


def with_next_steps(account: AccountSummary, playbook: Playbook | None) -> AccountSummary:
    """The account with the playbook's actions for its reasons (``next_steps``)."""
    if playbook is not None:
        reasons = [r.model_dump() for r in account.reasons]
        found = playbook.suggest(reasons, profile=account.profile, band=account.band)
        account.next_steps = [NextStep.model_validate(step) for step in found]
    return account


def curve(row: HealthScore) -> list[CurvePoint]:
    """The stored risk curve of a score (empty when its model had none)."""
    points = []
    for days in HORIZONS:
        risk = getattr(row, f"risk_{days}d")
        if risk is not None:
            points.append(CurvePoint(days=days, risk=risk, survival=1.0 - risk))
    return points


def account_detail(
    session: Session,
    served: ServingModel,
    account_id: str,
    *,
    since_days: int,
    history_days: int,
    top_k: int,
) -> AccountDetail | None:
    """Latest health, history and the change since ``since_days`` ago (``None``: no account).

    Args:
        session: a session on the store.
        served: the model that explains the change.
        account_id: the account.
        since_days: measure the change from the account's newest score at least this old.
        history_days: how far back the history goes from the latest score.
        top_k: change reasons listed (the rest are summed into ``other_measures``).
    """
    repo = HealthRepository(session)
    latest = repo.latest([account_id])
    if not latest:
        return None
    now = latest[0]
    history = repo.history(account_id, start=now.as_of - timedelta(days=history_days))
    then = session.scalars(
        select(HealthScore)
        .where(
            HealthScore.account_id == account_id,
            HealthScore.as_of <= now.as_of - timedelta(days=since_days),
        )
        .order_by(HealthScore.as_of.desc())
        .limit(1)
    ).first()
    change = ScoreChange(
        since_days=since_days,
        reference_date=then.as_of if then else None,
        score_then=then.health_score if then else None,
        score_now=now.health_score,
        score_change=now.health_score - then.health_score if then else None,
        band_then=then.band if then else None,
        band_now=now.band,
        explained=False,
    )
    vector = read_latest_features(session, [account_id]).get(account_id)
    if then is None:
        change.note = f"no score of this account at least {since_days} days before {now.as_of}"
    else:
        change = explained_change(session, served, vector, then.as_of, change, top_k)
    return AccountDetail(
        account=summary(now),
        history=[
            HistoryPoint(
                as_of=h.as_of,
                health_score=h.health_score,
                band=h.band,
                churn_probability=h.churn_probability,
                revenue_at_risk=h.revenue_at_risk,
                model_version=h.model_version,
            )
            for h in history
        ],
        change=change,
        risk_reasons=risk_reasons(served, vector, top_k),
    )


def risk_reasons(
    served: ServingModel, vector: StoredFeatures | None, top_k: int
) -> list[RiskReason]:
    """What drives the risk of the latest stored feature vector (none when it does not fit)."""
    if vector is None or served.model.check_record(vector.features):
        return []
    table = served.model.explain_risk(_frame(vector), top_k=top_k)
    return [
        RiskReason.model_validate({**r, "risk_points": r["health_points"]})
        for r in table.to_dict("records")
    ]


def explained_change(
    session: Session,
    served: ServingModel,
    now: StoredFeatures | None,
    reference: date,
    change: ScoreChange,
    top_k: int,
    *,
    with_risk: bool = True,
) -> ScoreChange:
    """The change explained from the stored feature vectors of both dates: health, and the risk
    within the horizon unless ``with_risk`` is off."""
    then = None
    if now is not None:
        account = [now.account_id]
        then = read_latest_features(session, account, on_or_before=reference).get(now.account_id)
    if now is None or then is None or then.as_of >= now.as_of:
        change.note = "no stored feature vectors for both dates: the change is not explained"
        return change
    unfit = [v.as_of for v in (then, now) if served.model.check_record(v.features)]
    if unfit:
        change.note = (
            f"the stored features of {unfit[0]} do not fit model {served.version}: the change "
            "is not explained"
        )
        return change
    explained = served.model.explain_change(_frame(then), _frame(now), top_k=top_k)
    facts = explained.summary.iloc[0]
    return change.model_copy(
        update={
            "explained": True,
            "model_version": served.version,
            "features_then_as_of": then.as_of,
            "features_now_as_of": now.as_of,
            "explained_change": float(facts["score_change"]),
            "reasons": [
                ChangeReason.model_validate(
                    {
                        **r,
                        **{k: _plain(r[k]) for k in _VALUES},
                        "breakdown": r["breakdown"] or [],
                    }
                )
                for r in explained.contributions.to_dict("records")
            ],
            **(_risk_change(served, then, now, top_k) if with_risk else {}),
        }
    )


def _risk_change(
    served: ServingModel, then: StoredFeatures, now: StoredFeatures, top_k: int
) -> dict[str, Any]:
    risk = served.model.explain_risk_change(_frame(then), _frame(now), top_k=top_k)
    return {
        "risk_change": float(risk["health_points"].sum()),
        "risk_reasons": [
            RiskChangeReason.model_validate(
                {**r, **{k: _plain(r[k]) for k in _VALUES}, "risk_points": r["health_points"]}
            )
            for r in risk.to_dict("records")
        ],
    }


_VALUES = ("value_then", "value_now", "exact_value_then", "exact_value_now")


def _frame(vector: StoredFeatures) -> pd.DataFrame:
    return pd.DataFrame([{ACCOUNT_ID: vector.account_id, **vector.features}])


def _plain(value: Any) -> float | str | None:
    if value is None or isinstance(value, str):
        return value
    number = float(value)
    return None if number != number or number in (float("inf"), float("-inf")) else number
