"""Snapshots for training: build or read them, keep the usable labelled rows, make matrices.

Usable rows: a snapshot is used only when its label is known (not censored) and its ``as_of``
lies at least ``warmup_days`` after the start of the event history, so that the look-back
windows of its features are filled with real history rather than zeros from before tracking
began. The history start is the first event's date when training builds the snapshots; for a
snapshot file it is estimated as the earliest last-activity date any snapshot shows
(``as_of - days_since_last_activity``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from vitals.config.settings import FeatureSettings
from vitals.features.build import Snapshots, read_snapshots
from vitals.features.pipeline import (
    PipelineError,
    SnapshotRequest,
    build_snapshots,
    load_valid_dataset,
    vocabulary_options,
)
from vitals.models.profiles import ProfileRouter
from vitals.training.errors import TrainingError

logger = logging.getLogger(__name__)

LABEL = "churned_within_horizon"
PROFILE = "profile"
_RECENCY = "days_since_last_activity"
_RECENCY_CAP = 181  # vitals.features.definitions.RECENCY_CAP_DAYS: "no activity in the look-back"


def build_training_snapshots(
    data_dir: str | Path,
    *,
    horizon_days: int,
    grace_days: int,
    every: str,
    warmup_days: int,
    vocabulary: FeatureSettings | None = None,
) -> tuple[Snapshots, date | None]:
    """Validate a data directory and build the snapshots training can use.

    Snapshot dates run from ``warmup_days`` after the first event to the last date whose label
    is known (``horizon_days + grace_days`` before the end of the data), ``every`` apart.

    Args:
        data_dir: the data directory.
        horizon_days: label horizon.
        grace_days: grace gap of the churn definition.
        every: step between snapshot dates (``7d``, ``14d``, ``1mo``, ...).
        warmup_days: first snapshot this many days after the first event.
        vocabulary: how many event types and product features to count, and key events
            (default: the settings' defaults).

    Returns:
        The snapshots and the date of the first event (``None`` without events).

    Raises:
        TrainingError: the directory is invalid, or too short for warm-up plus horizon.
    """
    try:
        dataset = load_valid_dataset(data_dir)
        first = dataset.activity_start  # the bulk of the events: stray early ones ignored
        start = None if first is None else first.date() + timedelta(days=warmup_days)
        # a later snapshot is censored (its horizon and grace gap run past the data): unused here
        end = dataset.data_end.date() + timedelta(days=1 - horizon_days - grace_days)
        if start is not None and start > end:
            raise TrainingError(
                f"the data run from {first.date()} to {dataset.data_end.date()}: too short for a "
                f"{warmup_days}-day warm-up plus a {horizon_days}-day horizon and "
                f"{grace_days}-day grace gap; lower --horizon or give more history"
            )
        request = SnapshotRequest(
            start=start,
            end=end,
            every=every,
            horizon_days=horizon_days,
            grace_days=grace_days,
            **vocabulary_options(vocabulary or FeatureSettings()),
        )
        snapshots = build_snapshots(dataset, request)
    except TrainingError:
        raise
    except (PipelineError, ValueError) as error:
        raise TrainingError(f"cannot build snapshots from {data_dir}: {error}") from None
    return snapshots, None if first is None else first.date()


def read_training_snapshots(path: str | Path, horizon_days: int) -> Snapshots:
    """Read a snapshot file written by ``vitals features`` and check its horizon.

    Raises:
        TrainingError: no such file, not a snapshot file, or labels of another horizon.
    """
    if not Path(path).is_file():
        raise TrainingError(f"--features {path}: no such file; build it with `vitals features`")
    try:
        snapshots = read_snapshots(path)
    except (ValueError, OSError) as error:
        raise TrainingError(f"--features {path}: {error}") from None
    if snapshots.horizon_days != horizon_days:
        raise TrainingError(
            f"--features {path} has labels for a {snapshots.horizon_days}-day horizon, not "
            f"{horizon_days}: pass --horizon {snapshots.horizon_days} or rebuild the file"
        )
    return snapshots


def estimate_history_start(frame: pd.DataFrame) -> date | None:
    """Earliest last-activity date any snapshot shows (``None`` without the recency feature)."""
    if _RECENCY not in frame.columns:
        return None
    recency = frame[_RECENCY].to_numpy(dtype=np.float64, na_value=np.nan)
    seen = recency < _RECENCY_CAP
    if not seen.any():
        return None
    last_active = frame["as_of"].to_numpy()[seen] - recency[seen].astype("timedelta64[D]")
    return pd.Timestamp(last_active.min()).date()


def usable_frame(
    snapshots: Snapshots,
    router: ProfileRouter,
    *,
    warmup_days: int,
    history_start: date | None = None,
) -> pd.DataFrame:
    """Labelled snapshot rows after the warm-up, with ``as_of`` as datetime and a profile column.

    Args:
        snapshots: feature snapshots with labels.
        router: routes each row to its health profile.
        warmup_days: skip rows closer than this to the start of the event history.
        history_start: the first event's date (estimated from the rows when ``None``).

    Returns:
        One row per usable snapshot, sorted by ``as_of`` and ``account_id``;
        ``churned_within_horizon`` as int 0/1, ``profile`` added.

    Raises:
        TrainingError: when no snapshot has a label (the horizon is longer than the data).
    """
    frame = snapshots.table.to_pandas(date_as_object=False)
    frame["as_of"] = frame["as_of"].astype("datetime64[ns]")
    labelled = frame[LABEL].notna().to_numpy()
    if not labelled.any():
        span = "no snapshots" if frame.empty else f"snapshots up to {frame['as_of'].max():%Y-%m-%d}"
        raise TrainingError(
            f"no snapshot has a label: a label needs {snapshots.horizon_days} horizon + "
            f"{snapshots.grace_days} grace days of data after its as_of, and the data end on "
            f"{snapshots.data_end} ({span}); lower --horizon or give more history"
        )
    start = history_start or estimate_history_start(frame)
    keep = labelled
    if start is not None:
        keep = keep & (frame["as_of"] >= pd.Timestamp(start + timedelta(days=warmup_days)))
    if not keep.any():
        raise TrainingError(
            f"every labelled snapshot falls within the {warmup_days}-day warm-up after the event "
            f"history starts ({start}); lower training.warmup_days or give more history"
        )
    # a fixed row order: engines return rows in any order, and bagging and ties depend on it
    frame = frame.loc[keep].sort_values(["as_of", "account_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    frame[LABEL] = frame[LABEL].astype(np.int8)
    segment = frame["segment"].to_numpy(dtype=object, na_value=None)
    tenure = frame["tenure_days"].to_numpy(dtype=np.float64, na_value=np.nan)
    frame[PROFILE] = router.route(segment, tenure)
    logger.info("%d usable labelled snapshots from %s", len(frame), frame["as_of"].min().date())
    return frame


def categories_of(frame: pd.DataFrame, names: Sequence[str]) -> dict[str, list[str]]:
    """Sorted levels of each categorical column (the training window's: fixes the codes)."""
    return {n: sorted(str(v) for v in frame[n].dropna().unique()) for n in names}


def design_matrix(
    frame: pd.DataFrame, features: Sequence[str], categories: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Booster input: the features in order, categoricals as pandas categories of fixed levels.

    Levels not seen in training become missing, exactly as ``HealthModel.predict`` encodes them.
    """
    X = frame[list(features)].copy()
    for name, levels in categories.items():
        X[name] = pd.Categorical(frame[name].to_numpy(dtype=object, na_value=None), list(levels))
    return X


def labels(frame: pd.DataFrame) -> np.ndarray:
    """The 0/1 churn labels as an int array."""
    return frame[LABEL].to_numpy(dtype=np.int64)
