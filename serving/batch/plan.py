"""What a run computes: its as-of dates, and the feature settings the model was trained with.

The data span from the first account's ``created_at`` to the data end; the latest as-of date is
the day after the last stamped day (a snapshot at ``as_of`` reads data strictly before it, so that
date sees everything). The model's features must be producible from the data directory: the
snapshot builder is asked for the model's own key product features, and a model needing a table
the directory lacks (e.g. ``tickets``) is rejected before any feature is computed.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

from features.build import ID_COLUMNS, account_attributes, data_end_day
from features.contract import TABLES
from features.dates import from_day, parse_every, snapshot_dates
from features.definitions import slug
from features.families import feature_set
from features.loader import Dataset
from models.health_model import HealthModel
from serving.batch.errors import DateOutOfRangeError, ModelDataMismatchError
from vitals.config.settings import Settings

logger = logging.getLogger(__name__)

_KEY_FEATURE = re.compile(r"^feature_(?P<slug>.+)_per_user_(?:prev_)?\d+d$")
_ALWAYS_NEEDED = ("segment", "tenure_days", "contract_value")


@dataclass(frozen=True)
class FeatureSettings:
    """How snapshots must be built for the model.

    Attributes:
        key_features: product features whose per-user use the model reads.
        horizon_days: label horizon the model was trained on.
        grace_days: churn grace gap the model was trained with.
    """

    key_features: list[str]
    horizon_days: int
    grace_days: int


def data_span(dataset: Dataset) -> tuple[date, date]:
    """The first and last as-of date that can be scored (first account created, data end)."""
    row = dataset.con.execute("SELECT MIN(created_at) FROM accounts").fetchall()[0][0]
    last = from_day(data_end_day(dataset))
    first = row.date() + timedelta(days=1) if row is not None else last
    return first, last


def score_date(dataset: Dataset, as_of: date | None) -> date:
    """The as-of date of ``vitals score``: the given one, or the end of the data.

    Raises:
        DateOutOfRangeError: the date lies outside the data.
    """
    first, last = data_span(dataset)
    if as_of is None:
        return last
    if not first <= as_of <= last:
        raise DateOutOfRangeError(
            f"--as-of {as_of} is outside the data: choose a date from {first} to {last}"
        )
    return as_of


def backfill_dates(dataset: Dataset, days: int, every: str) -> list[date]:
    """Snapshot dates of the last ``days`` days of the data, ``every`` apart, ending at its end.

    A window reaching before the data starts is cut at the data start.

    Raises:
        ValueError: ``days`` below 1 or an unparsable ``every``.
        DateOutOfRangeError: no date of the window lies within the data.
    """
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    step = parse_every(every)
    first, last = data_span(dataset)
    start = last - timedelta(days=days - 1)
    if start < first:
        logger.warning("backfill window starts before the data; starting at %s", first)
        start = first
    dates = snapshot_dates(start, last, step)
    if not dates:
        raise DateOutOfRangeError(f"no snapshot date within the last {days} days of the data")
    return dates


def feature_settings(model: HealthModel, dataset: Dataset, settings: Settings) -> FeatureSettings:
    """Key features, horizon and grace gap for building the model's snapshots.

    Training's metadata is used when present; otherwise key features are read off the model's
    ``feature_<slug>_per_user_*`` columns and matched to product features in the events, and the
    horizon and grace gap come from the settings.

    Raises:
        ModelDataMismatchError: a key feature of the model never occurs in the events.
    """
    meta = model.metadata_
    keys = meta.get("key_features")
    if keys is None:
        keys = _key_features_from_columns(model.feature_names_, dataset)
    horizon = int(meta.get("horizon_days") or model.horizon_days or settings.horizon_days)
    grace = int(meta.get("grace_days") or settings.grace_days)
    return FeatureSettings([str(k) for k in keys], horizon, grace)


def check_model_fits_data(model: HealthModel, dataset: Dataset, keys: list[str]) -> None:
    """Reject a model whose features these data cannot produce.

    Raises:
        ModelDataMismatchError: naming the missing features and, when known, the missing tables.
    """
    present = {t for t in TABLES if dataset.has(t)}
    categorical, numeric = account_attributes(dataset)
    producible = {f.spec.name for f in feature_set(present, keys, categorical, numeric)}
    producible.update(ID_COLUMNS)
    needed = [*_ALWAYS_NEEDED, *model.feature_names_]
    missing = [f for f in dict.fromkeys(needed) if f not in producible]
    if not missing:
        return
    table_of = {f.spec.name: f.table for f in feature_set(set(TABLES), keys, categorical, numeric)}
    absent = sorted({t for f in missing if (t := table_of.get(f)) and t not in present})
    tables = f" (the data directory has no {', '.join(absent)} table)" if absent else ""
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    raise ModelDataMismatchError(
        f"the model needs features these data cannot produce: {shown}{tables}"
    )


def _key_features_from_columns(columns: list[str], dataset: Dataset) -> list[str]:
    slugs = list(dict.fromkeys(m["slug"] for c in columns if (m := _KEY_FEATURE.match(c))))
    if not slugs:
        return []
    names = dataset.con.execute(
        "SELECT DISTINCT feature FROM events WHERE feature IS NOT NULL"
    ).fetchall()
    by_slug = {slug(n): n for (n,) in names}
    unknown = [s for s in slugs if s not in by_slug]
    if unknown:
        raise ModelDataMismatchError(
            f"the model reads product feature(s) {', '.join(unknown)}, which never occur in the "
            "events of this data directory"
        )
    return [by_slug[s] for s in slugs]
