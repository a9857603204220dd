"""Which features training keeps: those that vary, and those with enough values when asked."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from vitals.features.build import Snapshots
from vitals.training.selection import SENTIMENT, informative_features, training_features


def test_empty_constant_and_sparse_features_are_dropped_with_why() -> None:
    accounts, per_account = 20, 10
    rows = accounts * per_account
    rng = np.random.default_rng(3)
    row = np.arange(rows)
    index = row // per_account  # each account's rows are consecutive
    # one rating in each of 9 accounts: 4.5% of the rows, but 45% of the accounts
    widely = np.where((row % per_account == 0) & (index < 9), index % 3, np.nan)
    # every row of 5 accounts: 25% of the rows, and only 25% of the accounts
    by_few = np.where(index < 5, rng.integers(0, 3, rows), np.nan)
    frame = pd.DataFrame(
        {
            "account_id": [f"A{i:02d}" for i in index],
            "varies": rng.normal(size=rows),
            "empty": np.nan,
            "constant": 1.0,
            "rated_widely": widely,
            "rated_by_few": by_few,
            "plan": rng.choice(["a", "b"], rows),
        }
    )
    names = [c for c in frame.columns if c != "account_id"]
    coverage = {"rated_widely": 0.3, "rated_by_few": 0.3}
    kept, dropped = informative_features(frame, names, ["plan"], min_coverage=coverage)
    assert kept == ["varies", "rated_widely", "plan"]  # counted over accounts, not rows
    assert dropped == {"empty": "empty", "constant": "constant", "rated_by_few": "sparse"}
    kept_without, _ = informative_features(frame, names, ["plan"])
    assert "rated_by_few" in kept_without


def test_training_uses_csm_sentiment_only_when_enough_accounts_are_rated(
    snapshots: Snapshots, caplog: pytest.LogCaptureFixture
) -> None:
    rated = [s.name for s in snapshots.catalog if s.family == SENTIMENT]
    assert rated  # the simulator's CSMs rate accounts
    frame = snapshots.to_pandas()
    share = frame[rated[0]].notna().groupby(frame["account_id"]).any().mean()
    with caplog.at_level(logging.WARNING, logger="vitals.training.selection"):
        kept, _ = training_features(frame, snapshots, min_sentiment_share=share / 2)
    assert set(rated) <= set(kept) and "sentiment is not used" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="vitals.training.selection"):
        kept, dropped = training_features(frame, snapshots, min_sentiment_share=share + 0.01)
    assert not set(rated) & set(kept)
    assert {dropped[n] for n in rated} == {"sparse"}
    assert "CSM sentiment is not used" in caplog.text and rated[0] in caplog.text
