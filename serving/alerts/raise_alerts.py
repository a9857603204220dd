"""Raising alerts after scores are published: evaluate the rules, explain, store, queue delivery."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from vitals.config.alerts import AlertSettings, ParentRevenueRule, RiskAboveRule, ScoreDropRule
from vitals.models.health_model import HealthModel
from vitals.models.playbook import Playbook
from vitals.serving.alerts.history import account_history, parent_rollups, with_ancestors
from vitals.serving.alerts.reasons import alert_details
from vitals.serving.alerts.records import NewAlert, StoredAlert, store_alerts, stored_keys
from vitals.serving.alerts.rules import Hit, evaluate_accounts, evaluate_parents
from vitals.serving.store import HealthStore

logger = logging.getLogger(__name__)

REASONS_PER_ALERT = 5


def raise_alerts(
    store: HealthStore,
    rules: AlertSettings,
    model: HealthModel | None,
    as_of: date,
    account_ids: Collection[str] | None = None,
    *,
    now: datetime | None = None,
    playbook: Playbook | None = None,
) -> list[StoredAlert]:
    """Evaluate the alert rules on the scores published for ``as_of`` and store what fires.

    Each rule compares a subject's score (or roll-up) at ``as_of`` with its earlier ones in
    ``health_scores`` (``parent_health`` for parent rules) and fires when its condition starts to
    hold. Alerts already stored (same rule, subject and date) are skipped, so evaluating the same
    data again stores nothing new. The new alerts and their deliveries to the configured webhooks
    are written in one transaction.

    Args:
        store: the health store, with the scores of ``as_of`` published.
        rules: the alert rules and webhooks (``Settings().alerts``).
        model: explains each account alert's change of score from the stored feature vectors;
            ``None`` to attach the stored top reasons of the new score instead.
        as_of: the scored date to evaluate.
        account_ids: evaluate only these accounts, and the parents among them and above them
            in the account tree (default: every subject scored at ``as_of``).
        now: the alerts' creation time (default: the current time).
        playbook: suggests next steps for each alert's reasons (``details["next_steps"]``).

    Returns:
        The alerts stored by this call, by id.

    Raises:
        StoreError: the store cannot be read or written.
    """
    ids = None if account_ids is None else sorted(set(account_ids))
    with store.session() as session:
        hits = _evaluate(session, rules, as_of, ids)
        known = stored_keys(session, [h.dedupe_key for h in hits])
        fresh = [h for h in hits if h.dedupe_key not in known]
        details = alert_details(session, model, fresh, REASONS_PER_ALERT)
    if playbook is not None:
        for extra in details:
            extra["next_steps"] = playbook.suggest_for_alert(extra)
    alerts = [_new(hit, extra) for hit, extra in zip(fresh, details, strict=True)]
    created = store_alerts(store, alerts, rules, now or datetime.now(UTC))
    logger.info(
        "alerts for %s: %d fired, %d new, %d stored before",
        as_of,
        len(hits),
        len(created),
        len(known),
    )
    return created


def _evaluate(
    session: Session, rules: AlertSettings, as_of: date, ids: list[str] | None
) -> list[Hit]:
    accounts = [r for r in rules.rules if not isinstance(r, ParentRevenueRule)]
    parents = [r for r in rules.rules if isinstance(r, ParentRevenueRule)]
    hits: list[Hit] = []
    if accounts:
        drops = [r.days for r in accounts if isinstance(r, ScoreDropRule)]
        horizons = sorted({r.days for r in accounts if isinstance(r, RiskAboveRule)})
        history = account_history(
            session, as_of, ids, window_days=max(drops, default=0), horizons=horizons
        )
        hits += evaluate_accounts(accounts, history, as_of)
    if parents:
        subjects = None if ids is None else with_ancestors(session, ids)
        weightings = sorted({r.weighting for r in parents})
        rollups = parent_rollups(session, as_of, subjects, weightings)
        hits += evaluate_parents(parents, rollups, as_of)
    return hits


def _new(hit: Hit, details: dict[str, object]) -> NewAlert:
    return NewAlert(
        dedupe_key=hit.dedupe_key,
        rule=hit.rule.name,
        kind=hit.rule.kind,
        subject_kind=hit.subject_kind,
        subject_id=hit.subject_id,
        as_of=hit.as_of,
        model_version=hit.model_version,
        severity=hit.rule.severity,
        message=hit.message,
        details=details,
    )
