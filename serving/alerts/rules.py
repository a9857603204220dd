"""Evaluating alert rules on scored history (pure: frames in, hits out).

A rule fires for a subject at a scored date ``as_of`` when its condition holds at ``as_of`` and did
not hold at the subject's previous scored date, so a fall is reported once, not on every date it
lasts. The frames hold, per subject and scored date, the stored values (one row each):

* accounts: ``account_id, as_of, model_version, health_score, band`` and ``risk_<N>d`` for every
  horizon a rule asks about; enough history to see each account's previous scored date and, for
  ``score_drop``, the ``2 * days`` before ``as_of``;
* parents: ``parent_id, as_of, model_version, weighting, revenue_at_risk, health``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from vitals.config.alerts import (
    AccountRule,
    BandDropRule,
    ParentRevenueRule,
    RiskAboveRule,
    ScoreDropRule,
)

BAND_RANK = {"poor": 0, "average": 1, "good": 2}
_NUMBERS = ("health_score", "health", "revenue_at_risk")


@dataclass(frozen=True)
class Hit:
    """A rule that fired for one subject at one scored date.

    Attributes:
        rule: the rule.
        subject_kind: ``account`` or ``parent``.
        subject_id: the account or parent id.
        as_of: the scored date it fired at.
        model_version: the model version of the score at ``as_of``.
        reference_date: the earlier scored date it compares with (``None``: none).
        before: the values at ``reference_date``.
        after: the values at ``as_of``.
        message: one sentence for people.
    """

    rule: AccountRule | ParentRevenueRule
    subject_kind: str
    subject_id: str
    as_of: date
    model_version: str
    reference_date: date | None
    before: dict[str, Any]
    after: dict[str, Any]
    message: str

    @property
    def dedupe_key(self) -> str:
        """Identifies the alert: the same rule, subject and date give the same key."""
        text = f"{self.rule.name}|{self.subject_kind}|{self.subject_id}|{self.as_of.isoformat()}"
        return hashlib.sha256(text.encode()).hexdigest()


def evaluate_accounts(
    rules: Sequence[AccountRule], history: pd.DataFrame, as_of: date
) -> list[Hit]:
    """The account rules that fire at ``as_of``, by rule then account id.

    Args:
        rules: the rules to evaluate.
        history: scored rows of the accounts (see the module docstring).
        as_of: the scored date; accounts without a row at it are not evaluated.
    """
    frame = _dated(history)
    now, previous = _now_and_previous(frame, "account_id", as_of)
    if now.empty:
        return []
    hits: list[Hit] = []
    for rule in rules:
        if isinstance(rule, BandDropRule):
            hits += _band_drops(rule, now, previous, as_of)
        elif isinstance(rule, ScoreDropRule):
            hits += _score_drops(rule, frame, now, previous, as_of)
        elif isinstance(rule, RiskAboveRule):
            hits += _risks_above(rule, now, previous, as_of)
    return hits


def evaluate_parents(
    rules: Sequence[ParentRevenueRule], rollups: pd.DataFrame, as_of: date
) -> list[Hit]:
    """The parent rules that fire at ``as_of``, by rule then parent id.

    Args:
        rules: the rules to evaluate.
        rollups: stored roll-ups of the parents (see the module docstring), any weightings.
        as_of: the scored date.
    """
    frame = _dated(rollups)
    hits: list[Hit] = []
    for rule in rules:
        weighted = frame[frame["weighting"] == rule.weighting]
        now, previous = _now_and_previous(weighted, "parent_id", as_of)
        after, before = now["revenue_at_risk"], previous["revenue_at_risk"]
        fired = (after > rule.amount) & ~(before > rule.amount)
        for parent in now.index[fired]:
            new, old = now.loc[parent], previous.loc[parent]
            was = (
                "no earlier revenue at risk"
                if _missing(old["revenue_at_risk"])
                else f"was {old['revenue_at_risk']:,.0f} on {_day(old['as_of'])}"
            )
            hits.append(
                _hit(
                    rule,
                    "parent",
                    parent,
                    as_of,
                    new,
                    old,
                    ("revenue_at_risk", "health"),
                    f"{parent}: revenue at risk rose to {new['revenue_at_risk']:,.0f}, above "
                    f"{rule.amount:,.0f} ({was}; {rule.weighting} weighting)",
                )
            )
    return hits


def _band_drops(
    rule: BandDropRule, now: pd.DataFrame, previous: pd.DataFrame, as_of: date
) -> list[Hit]:
    fired = now["band"].map(BAND_RANK) < previous["band"].map(BAND_RANK)
    if rule.to is not None:
        fired &= now["band"] == rule.to
    hits = []
    for account in now.index[fired.fillna(False).astype(bool)]:
        new, old = now.loc[account], previous.loc[account]
        hits.append(
            _hit(
                rule,
                "account",
                account,
                as_of,
                new,
                old,
                ("band", "health_score"),
                f"{account}: band fell from {old['band']} to {new['band']} (health "
                f"{old['health_score']:.1f} -> {new['health_score']:.1f})",
            )
        )
    return hits


def _score_drops(
    rule: ScoreDropRule,
    frame: pd.DataFrame,
    now: pd.DataFrame,
    previous: pd.DataFrame,
    as_of: date,
) -> list[Hit]:
    peak_now = _peaks(frame, now["as_of"], rule.days).reindex(now.index)
    peak_then = _peaks(frame, previous["as_of"].dropna(), rule.days).reindex(now.index)
    drop_now = peak_now["health_score"] - now["health_score"]
    drop_then = peak_then["health_score"] - previous["health_score"]
    fired = (drop_now >= rule.points) & ~(drop_then >= rule.points)
    hits = []
    for account in now.index[fired]:
        new, peak = now.loc[account], peak_now.loc[account]
        hits.append(
            _hit(
                rule,
                "account",
                account,
                as_of,
                new,
                peak,
                ("health_score", "band"),
                f"{account}: health fell {drop_now[account]:.1f} points within {rule.days} days "
                f"(from {peak['health_score']:.1f} on {_day(peak['as_of'])} to "
                f"{new['health_score']:.1f})",
            )
        )
    return hits


def _risks_above(
    rule: RiskAboveRule, now: pd.DataFrame, previous: pd.DataFrame, as_of: date
) -> list[Hit]:
    column = f"risk_{rule.days}d"
    fired = (now[column] >= rule.threshold) & ~(previous[column] >= rule.threshold)
    hits = []
    for account in now.index[fired]:
        new, old = now.loc[account], previous.loc[account]
        was = (
            "no earlier risk"
            if _missing(old[column])
            else f"was {old[column]:.0%} on {_day(old['as_of'])}"
        )
        hits.append(
            _hit(
                rule,
                "account",
                account,
                as_of,
                new,
                old,
                (column, "health_score", "band"),
                f"{account}: risk of churn within {rule.days} days reached {new[column]:.0%}, "
                f"threshold {rule.threshold:.0%} ({was})",
            )
        )
    return hits


def _peaks(frame: pd.DataFrame, ends: pd.Series, days: int) -> pd.DataFrame:
    """Per account, the highest score (its band and date, the earliest on a tie) dated in
    ``[end - days, end)``."""
    windows = ends.rename("end").rename_axis("account_id").reset_index()
    joined = frame.merge(windows, on="account_id")
    inside = joined[
        (joined["as_of"] < joined["end"])
        & (joined["as_of"] >= joined["end"] - pd.Timedelta(days=days))
    ].sort_values(["account_id", "as_of"], kind="stable")
    if inside.empty:
        return pd.DataFrame(
            {
                "health_score": pd.Series(dtype="float64"),
                "band": pd.Series(dtype="object"),
                "as_of": pd.Series(dtype="datetime64[ns]"),
            },
            index=pd.Index([], name="account_id"),
        )
    best = inside.groupby("account_id")["health_score"].idxmax()
    return inside.loc[best].set_index("account_id")[["health_score", "band", "as_of"]]


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as timestamps, and numbers as floats (``None`` as NaN)."""
    numbers = [c for c in frame.columns if c in _NUMBERS or c.startswith("risk_")]
    return frame.assign(
        as_of=pd.to_datetime(frame["as_of"]), **{c: frame[c].astype("float64") for c in numbers}
    )


def _now_and_previous(
    frame: pd.DataFrame, key: str, as_of: date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows at ``as_of`` and each subject's newest row before it (all-missing when it has none),
    both indexed by ``key`` in the same order."""
    day = pd.Timestamp(as_of)
    now = frame[frame["as_of"] == day].set_index(key).sort_index()
    earlier = frame[frame["as_of"] < day].sort_values("as_of", kind="stable")
    previous = earlier.groupby(key).tail(1).set_index(key).reindex(now.index)
    return now, previous


def _hit(
    rule: AccountRule | ParentRevenueRule,
    subject_kind: str,
    subject_id: str,
    as_of: date,
    new: pd.Series,
    old: pd.Series,
    fields: tuple[str, ...],
    message: str,
) -> Hit:
    reference = None if _missing(old["as_of"]) else _day(old["as_of"])
    return Hit(
        rule=rule,
        subject_kind=subject_kind,
        subject_id=str(subject_id),
        as_of=as_of,
        model_version=str(new["model_version"]),
        reference_date=reference,
        before=_values(old, fields, reference),
        after=_values(new, fields, as_of),
        message=message,
    )


def _values(row: pd.Series, fields: tuple[str, ...], day: date | None) -> dict[str, Any]:
    values: dict[str, Any] = {"as_of": day.isoformat() if day else None}
    for field in fields:
        if field not in row.index:
            continue
        value = row[field]
        values[field] = (
            None if _missing(value) else value if isinstance(value, str) else float(value)
        )
    return values


def _missing(value: Any) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()
