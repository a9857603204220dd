"""Out-of-time split of labelled snapshots into training, calibration and test windows.

Laid out backwards from the last labelled ``as_of`` (or ``test_end``), by ``as_of`` only::

    | train ...  t1 | gap | c0 ... c1 | gap | s0 ... s1 |
                        calibration          test

* test: ``as_of`` in ``(s1 - test_days, s1]``;
* calibration (also the validation window of early stopping and tuning): ``as_of`` in
  ``(c1 - calibration_days, c1]`` with ``c1 = s1 - test_days - gap``;
* train: ``as_of <= t1`` with ``t1 = c1 - calibration_days - gap``.

With ``gap = horizon`` (the default) a label of a training snapshot, which looks at most
``horizon`` days past its ``as_of``, ends before the first calibration snapshot, and a
calibration label ends before the first test snapshot: no window's outcome is known to the
models of an earlier stage, as in production where a model is trained on outcomes that are
already known. The test window is touched only by the final evaluation. The same account
appears in several windows at different dates; that is what scoring it next quarter means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.models.profiles import ProfileRouter
from vitals.training.assemble import profile_rules
from vitals.training.data import LABEL, usable_frame
from vitals.training.errors import TrainingError

WINDOWS = ("train", "calibration", "test")


@dataclass(frozen=True)
class Window:
    """One time window of the split (dates are the first and last ``as_of`` it holds)."""

    start: date
    end: date
    dates: int
    snapshots: int
    churners: int

    def to_dict(self) -> dict[str, object]:
        """The window as JSON-able data."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "dates": self.dates,
            "snapshots": self.snapshots,
            "churners": self.churners,
        }


@dataclass(frozen=True)
class TimeSplit:
    """The three windows' rows and their description."""

    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame
    windows: dict[str, Window]
    gap_days: int

    def to_dict(self) -> dict[str, object]:
        """Windows and gap as JSON-able data (logged as the data window of a run)."""
        return {"gap_days": self.gap_days, **{k: w.to_dict() for k, w in self.windows.items()}}


def split_by_time(
    frame: pd.DataFrame,
    *,
    horizon_days: int,
    test_days: int,
    calibration_days: int,
    gap_days: int | None = None,
    test_end: date | None = None,
    min_train_churners: int = 1,
) -> TimeSplit:
    """Split labelled snapshots into train, calibration and test windows by ``as_of``.

    Args:
        frame: labelled snapshot rows with a datetime ``as_of`` column.
        horizon_days: label horizon (the default gap).
        test_days: length of the test window.
        calibration_days: length of the calibration window.
        gap_days: days between windows (default: ``horizon_days``).
        test_end: last ``as_of`` of the test window (default: the last labelled one).
        min_train_churners: fewest churners the training window may hold.

    Returns:
        The :class:`TimeSplit`.

    Raises:
        TrainingError: a window without labels or churners, too few training churners, or data
            too short for the windows; the message says which setting to change.
    """
    gap = horizon_days if gap_days is None else gap_days
    as_of = frame["as_of"]
    last = as_of.max()
    s1 = last if test_end is None else min(pd.Timestamp(test_end), last)
    if test_end is not None and not (as_of > pd.Timestamp(test_end) - _days(test_days)).any():
        raise TrainingError(
            f"the test window ending {test_end} holds no labelled snapshot: labels need the "
            f"horizon plus the grace gap after as_of, so every snapshot there is censored; set "
            f"training.test_end on or before {last:%Y-%m-%d}"
        )
    s0 = s1 - _days(test_days)
    c1 = s0 - _days(gap)
    c0 = c1 - _days(calibration_days)
    t1 = c0 - _days(gap)
    masks = {
        "train": as_of <= t1,
        "calibration": (as_of > c0) & (as_of <= c1),
        "test": (as_of > s0) & (as_of <= s1),
    }
    parts = {
        name: frame.loc[mask.to_numpy()].reset_index(drop=True) for name, mask in masks.items()
    }
    if parts["train"].empty:
        raise TrainingError(
            f"labelled snapshots span only {as_of.min():%Y-%m-%d} to {last:%Y-%m-%d}, too short "
            f"for test ({test_days} d) + gap ({gap} d) + calibration ({calibration_days} d) + gap "
            f"({gap} d) windows before any training rows: shorten training.test_days / "
            "calibration_days / gap_days, lower --horizon, or give more history"
        )
    windows = {name: _window(part) for name, part in parts.items()}
    _check(windows, min_train_churners)
    return TimeSplit(parts["train"], parts["calibration"], parts["test"], windows, gap)


def _days(n: int) -> pd.Timedelta:
    return pd.Timedelta(days=n)


def _window(part: pd.DataFrame) -> Window:
    if part.empty:
        return Window(date.min, date.min, 0, 0, 0)
    dates = part["as_of"]
    return Window(
        dates.min().date(),
        dates.max().date(),
        int(dates.nunique()),
        len(part),
        int(np.sum(part[LABEL].to_numpy())),
    )


def _check(windows: dict[str, Window], min_train_churners: int) -> None:
    train, calibration, test = (windows[w] for w in WINDOWS)
    if train.churners < min_train_churners:
        raise TrainingError(
            f"the training window ({train.start} to {train.end}) holds {train.churners} churners "
            f"in {train.snapshots} snapshots; at least {min_train_churners} are needed: give more "
            "history or accounts, shorten training.test_days / calibration_days, or lower "
            "training.min_train_churners"
        )
    for name, window in (("calibration", calibration), ("test", test)):
        if window.snapshots == 0:
            raise TrainingError(
                f"the {name} window holds no labelled snapshot: widen training.{name}_days or "
                "snapshot more often (training.snapshot_every)"
            )
        if window.churners in (0, window.snapshots):
            kind = "no churner" if window.churners == 0 else "only churners"
            raise TrainingError(
                f"the {name} window ({window.start} to {window.end}) holds {kind} among its "
                f"{window.snapshots} snapshots: widen training.{name}_days or give more accounts"
            )


def training_split(
    snapshots: Snapshots, settings: Settings, history_start: date | None = None
) -> TimeSplit:
    """The time split ``vitals train`` makes of these snapshots, rows routed to profiles.

    Raises:
        TrainingError: data too short or without churners for the windows.
    """
    config = settings.training
    router = ProfileRouter(profile_rules(settings.profiles), settings.default_profile)
    frame = usable_frame(
        snapshots, router, warmup_days=config.warmup_days, history_start=history_start
    )
    return split_by_time(
        frame,
        horizon_days=snapshots.horizon_days,
        test_days=config.test_days,
        calibration_days=config.calibration_days,
        gap_days=config.gap_days,
        test_end=config.test_end,
        min_train_churners=config.min_train_churners,
    )
