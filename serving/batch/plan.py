"""What a run computes: its as-of dates, and whether the data can produce the model's features.

The data span from the first account's ``created_at`` to the data end; the latest as-of date is
the day after the last stamped day (a snapshot at ``as_of`` reads data strictly before it, so that
date sees everything). The features to compute are the model's own declared feature set
(``HealthModel.feature_set_``: its key product features, horizon and grace gap); a model needing a
table the directory lacks (e.g. ``tickets``) is rejected before any feature is computed.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from vitals.features.build import ID_COLUMNS, account_attributes, data_end_day
from vitals.features.contract import TABLES
from vitals.features.dates import from_day, parse_every, snapshot_dates
from vitals.features.families import feature_set
from vitals.features.loader import Dataset
from vitals.models.health_model import HealthModel
from vitals.serving.batch.errors import DateOutOfRangeError, ModelDataMismatchError

logger = logging.getLogger(__name__)

_ALWAYS_NEEDED = ("segment", "tenure_days", "contract_value")


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


def unseen_vocabulary(model: HealthModel, dataset: Dataset) -> dict[str, int]:
    """How many event types and product features in the data the model does not count one by one.

    They are ignored as their own features (a model counts what it was trained on); an item the
    model counts that has gone quiet simply counts zero.
    """
    vocabulary = model.feature_set_.vocabulary
    counts = {}
    for column, kept in (("event_type", vocabulary.event_types), ("feature", vocabulary.features)):
        present = dataset.con.execute(
            f"SELECT DISTINCT {column} FROM events WHERE {column} IS NOT NULL"
        ).fetchall()
        counts[column] = len({r[0] for r in present} - set(kept))
    return counts


def check_model_fits_data(model: HealthModel, dataset: Dataset) -> None:
    """Reject a model whose declared features these data cannot produce.

    Raises:
        ModelDataMismatchError: naming the missing features and, when known, the missing tables.
    """
    vocabulary = model.feature_set_.vocabulary
    present = {t for t in TABLES if dataset.has(t)}
    categorical, numeric = account_attributes(dataset)
    producible = {f.spec.name for f in feature_set(present, vocabulary, categorical, numeric)}
    producible.update(ID_COLUMNS)
    needed = [*_ALWAYS_NEEDED, *model.feature_names_]
    missing = [f for f in dict.fromkeys(needed) if f not in producible]
    if not missing:
        return
    table_of = {
        f.spec.name: f.table for f in feature_set(set(TABLES), vocabulary, categorical, numeric)
    }
    absent = sorted({t for f in missing if (t := table_of.get(f)) and t not in present})
    tables = f" (the data directory has no {', '.join(absent)} table)" if absent else ""
    shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
    raise ModelDataMismatchError(
        f"the model needs features these data cannot produce: {shown}{tables}"
    )
