"""Calibration drift: the churn probabilities the store served against the churn that followed.

Why the data, not the store. The store knows what was predicted (``health_scores``), but not
reliably what happened: an account missing from later scores may have churned, been set aside by
validation, or merely not been scored that day; a churn is dated by the last subscription line
when no new line starts within the grace gap, which only the subscriptions show; and a label is
known only once the horizon plus the grace gap lie inside the data. So outcomes are taken where
they are defined: the churn labels of :func:`vitals.features.build.build_features` (built with the
model's horizon, grace gap and vocabulary), or of snapshots built the same way.

What is compared. The stored ``churn_probability`` (risk within the model's horizon) of the given
model version at every scored date whose outcome is known (``as_of + horizon + grace <=`` the
data's end, the same rule that censors training labels), keeping the dates within
``window_days`` of the newest such date, joined by (account, date) with the observed label. Per
profile (as stored with the score) and overall: rows, mean predicted, observed churn rate, their
gap and the ECE. Stored scores without a label (no longer a customer in the data) are counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select

from vitals.features.build import Snapshots, build_feature_set, data_end_day
from vitals.features.dates import from_day
from vitals.features.loader import Dataset
from vitals.models.drift import CalibrationGap, calibration_gap
from vitals.models.health_model import HealthModel
from vitals.serving.store import HealthStore
from vitals.serving.store.schema import HealthScore

LABEL = "churned_within_horizon"
KEYS = ["account_id", "as_of"]


@dataclass(frozen=True)
class CalibrationDrift:
    """Predicted against observed churn per profile, over the matured scored dates.

    Attributes:
        available: whether anything could be compared (else ``reason`` says why not).
        reason: why calibration drift is unavailable.
        horizon_days: the horizon of the compared risk.
        dates: the scored dates compared.
        unmatched: stored scores of those dates without a known outcome in the data.
        overall: all compared rows together.
        profiles: per health profile.
    """

    available: bool
    reason: str | None = None
    horizon_days: int | None = None
    dates: list[date] = field(default_factory=list)
    unmatched: int = 0
    overall: CalibrationGap | None = None
    profiles: dict[str, CalibrationGap] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (read back by :meth:`from_dict`)."""
        return {
            "available": self.available,
            "reason": self.reason,
            "horizon_days": self.horizon_days,
            "dates": [d.isoformat() for d in self.dates],
            "unmatched": self.unmatched,
            "overall": None if self.overall is None else _gap_dict(self.overall),
            "profiles": {name: _gap_dict(gap) for name, gap in self.profiles.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationDrift:
        """The calibration drift :meth:`to_dict` wrote."""
        overall = data.get("overall")
        return cls(
            available=bool(data["available"]),
            reason=data.get("reason"),
            horizon_days=data.get("horizon_days"),
            dates=[date.fromisoformat(d) for d in data.get("dates", [])],
            unmatched=int(data.get("unmatched", 0)),
            overall=None if overall is None else _gap(overall),
            profiles={name: _gap(gap) for name, gap in data.get("profiles", {}).items()},
        )


def unavailable(reason: str) -> CalibrationDrift:
    """Calibration drift that could not be computed, and why."""
    return CalibrationDrift(available=False, reason=reason)


def calibration_drift(
    store: HealthStore,
    source: Dataset | Snapshots,
    model: HealthModel,
    version: str,
    *,
    window_days: int = 91,
) -> CalibrationDrift:
    """Compare the stored churn probabilities of ``version`` with the churn that followed.

    Args:
        store: the health store holding the served scores.
        source: where outcomes come from: a loaded data directory (labels are built for the
            matured dates) or labelled snapshots of the model's horizon and grace gap.
        model: the model that scored (gives the horizon, grace gap and vocabulary).
        version: its version, as recorded with the stored scores.
        window_days: matured dates within this many days of the newest one are compared.

    Returns:
        The :class:`CalibrationDrift` (unavailable, with the reason, when nothing has matured).

    Raises:
        ValueError: snapshots labelled for another horizon or grace gap than the model's.
        StoreError: the store cannot be read.
    """
    horizon, grace = model.feature_set_.horizon_days, model.feature_set_.grace_days
    if isinstance(source, Snapshots) and (source.horizon_days, source.grace_days) != (
        horizon,
        grace,
    ):
        raise ValueError(
            f"the snapshots are labelled for a {source.horizon_days}-day horizon and a "
            f"{source.grace_days}-day grace gap; the model needs {horizon} and {grace}"
        )
    data_end = source.data_end if isinstance(source, Snapshots) else _data_end(source)
    known_until = data_end - timedelta(days=horizon + grace)
    with store.session() as session:
        query = select(HealthScore.as_of).where(HealthScore.model_version == version)
        scored = sorted(session.scalars(query.distinct()))
    if not scored:
        return unavailable(f"the store holds no scores of model {version}")
    matured = [d for d in scored if d <= known_until]
    if not matured:
        return unavailable(
            f"no score of model {version} is old enough to compare: with a {horizon}-day "
            f"horizon and a {grace}-day grace gap the data shows outcomes of scores dated up to "
            f"{known_until}, and its oldest score is dated {scored[0]}"
        )
    dates = [d for d in matured if d > matured[-1] - timedelta(days=window_days)]
    joined = _predicted(store, version, dates).merge(
        _observed(source, dates, model), on=KEYS, how="left"
    )
    known = joined[joined[LABEL].notna()]
    if known.empty:
        return unavailable(
            f"none of the {len(joined):,} scores of model {version} dated {dates[0]} to "
            f"{dates[-1]} is an account the data knows as a customer then"
        )
    profiles = {
        str(name): calibration_gap(rows[LABEL], rows["churn_probability"])
        for name, rows in known.groupby("profile", sort=True)
    }
    return CalibrationDrift(
        available=True,
        horizon_days=horizon,
        dates=dates,
        unmatched=len(joined) - len(known),
        overall=calibration_gap(known[LABEL], known["churn_probability"]),
        profiles=profiles,
    )


def _data_end(dataset: Dataset) -> date:
    """The day after the data's last day (labels are known up to it)."""
    return from_day(data_end_day(dataset))


def _predicted(store: HealthStore, version: str, dates: list[date]) -> pd.DataFrame:
    """Stored ``account_id, as_of, profile, churn_probability`` of ``version`` at ``dates``."""
    columns = (
        HealthScore.account_id,
        HealthScore.as_of,
        HealthScore.profile,
        HealthScore.churn_probability,
    )
    query = select(*columns).where(
        HealthScore.model_version == version, HealthScore.as_of.in_(dates)
    )
    with store.session() as session:
        rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=[*KEYS, "profile", "churn_probability"])
    return frame.assign(as_of=pd.to_datetime(frame["as_of"]))


def _observed(source: Dataset | Snapshots, dates: list[date], model: HealthModel) -> pd.DataFrame:
    """``account_id, as_of`` and the churn label of every customer at ``dates``."""
    if not isinstance(source, Snapshots):
        source = build_feature_set(source, model.feature_set_, dates)
    frame = source.table.select([*KEYS, LABEL]).to_pandas()
    frame = frame.assign(account_id=frame["account_id"].astype(object))
    frame = frame.assign(as_of=pd.to_datetime(frame["as_of"]))
    return frame[frame["as_of"].isin(pd.to_datetime(dates))]


def _gap_dict(gap: CalibrationGap) -> dict[str, float | int]:
    return {
        "count": gap.count,
        "predicted": gap.predicted,
        "observed": gap.observed,
        "gap": gap.gap,
        "ece": gap.ece,
    }


def _gap(data: Mapping[str, Any]) -> CalibrationGap:
    return CalibrationGap(
        int(data["count"]), float(data["predicted"]), float(data["observed"]), float(data["ece"])
    )
