"""Out-of-time splits: window order, gaps, label leakage, usable rows and bad-input messages."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from trainingdata import replaced_table

from vitals.config.settings import Settings
from vitals.features.build import Snapshots
from vitals.models.profiles import ProfileRouter
from vitals.training.assemble import profile_rules
from vitals.training.data import LABEL, estimate_history_start, usable_frame
from vitals.training.errors import TrainingError
from vitals.training.splits import TimeSplit, split_by_time


@pytest.fixture(scope="module")
def frame(snapshots: Snapshots, settings: Settings, first_event: date | None) -> pd.DataFrame:
    router = ProfileRouter(profile_rules(settings.profiles), settings.default_profile)
    return usable_frame(snapshots, router, warmup_days=90, history_start=first_event)


def split(frame: pd.DataFrame, **kw: object) -> TimeSplit:
    options = {"horizon_days": 90, "test_days": 91, "calibration_days": 91} | kw
    return split_by_time(frame, **options)  # type: ignore[arg-type]


def test_usable_rows_are_labelled_and_after_the_warm_up(
    frame: pd.DataFrame, snapshots: Snapshots, first_event: date | None
) -> None:
    assert first_event is not None
    assert frame[LABEL].isin([0, 1]).all()
    assert frame["as_of"].min() >= pd.Timestamp(first_event + timedelta(days=90))
    # training builds no censored snapshot: the last date is horizon + grace before the data end
    assert snapshots.table.column(LABEL).null_count == 0
    assert len(frame) == snapshots.table.num_rows
    last = snapshots.data_end - timedelta(days=90 + 30)
    assert last - timedelta(days=14) < frame["as_of"].max().date() <= last


def test_history_start_estimate_is_not_before_the_first_event(
    snapshots: Snapshots, first_event: date | None
) -> None:
    estimate = estimate_history_start(snapshots.table.to_pandas(date_as_object=False))
    assert estimate is not None and first_event is not None
    assert first_event <= estimate < first_event + timedelta(days=90)


def test_windows_are_ordered_with_horizon_gaps(frame: pd.DataFrame) -> None:
    parts = split(frame)
    w = parts.windows
    assert w["test"].end == frame["as_of"].max().date()
    assert w["train"].end + timedelta(days=90) < w["calibration"].start
    assert w["calibration"].end + timedelta(days=90) < w["test"].start
    assert (w["test"].end - w["test"].start).days < 91
    assert sum(x.snapshots for x in w.values()) <= len(frame)
    assert parts.test["as_of"].min() > parts.calibration["as_of"].max() > parts.train["as_of"].max()


def test_no_training_or_calibration_label_reaches_into_the_next_window(frame: pd.DataFrame) -> None:
    parts = split(frame)
    for earlier, later in ((parts.train, parts.calibration), (parts.calibration, parts.test)):
        churned = earlier[earlier[LABEL] == 1]
        assert len(churned) > 0
        assert (pd.to_datetime(churned["churn_date"]) < later["as_of"].min()).all()


def test_gap_and_test_end_are_configurable(frame: pd.DataFrame) -> None:
    last = frame["as_of"].max().date()
    parts = split(frame, gap_days=30, test_end=last - timedelta(days=28))
    assert parts.windows["test"].end == last - timedelta(days=28)
    assert parts.gap_days == 30
    assert parts.windows["train"].end + timedelta(days=30) < parts.windows["calibration"].start


def test_all_censored_test_window_says_what_to_change(frame: pd.DataFrame) -> None:
    later = frame["as_of"].max().date() + timedelta(days=120)
    with pytest.raises(TrainingError, match=r"censored; set training.test_end on or before"):
        split(frame, test_end=later)


def test_too_few_training_churners_says_what_to_change(frame: pd.DataFrame) -> None:
    with pytest.raises(TrainingError, match=r"churners .* at least 100000 are needed"):
        split(frame, min_train_churners=100_000)


def test_windows_longer_than_the_data_say_what_to_change(frame: pd.DataFrame) -> None:
    with pytest.raises(TrainingError, match=r"too short .* shorten training.test_days"):
        split(frame, test_days=300)


def test_a_horizon_longer_than_the_data_says_what_to_change(
    snapshots: Snapshots, settings: Settings
) -> None:
    table = snapshots.table.to_pandas()
    table[LABEL] = pd.array([None] * len(table), dtype="Int8")
    censored = replaced_table(snapshots, table)
    router = ProfileRouter(profile_rules(settings.profiles), settings.default_profile)
    with pytest.raises(TrainingError, match=r"no snapshot has a label.*lower --horizon"):
        usable_frame(censored, router, warmup_days=90)


def test_calibration_window_without_churners_is_refused(frame: pd.DataFrame) -> None:
    parts = split(frame)
    start, end = (
        pd.Timestamp(parts.windows["calibration"].start),
        pd.Timestamp(parts.windows["calibration"].end),
    )
    quiet = frame.copy()
    in_window = ((quiet["as_of"] >= start) & (quiet["as_of"] <= end)).to_numpy()
    quiet.loc[in_window, LABEL] = np.int8(0)
    with pytest.raises(TrainingError, match=r"calibration window .* holds no churner"):
        split(quiet)
