"""Which features training keeps: those that vary, and those with enough values when asked."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vitals.training.selection import informative_features


def test_empty_constant_and_sparse_features_are_dropped_with_why() -> None:
    rows = 200
    rng = np.random.default_rng(3)
    rated = np.full(rows, np.nan)
    rated[:9] = rng.integers(0, 3, 9)  # 4.5% of rows
    frame = pd.DataFrame(
        {
            "varies": rng.normal(size=rows),
            "empty": np.nan,
            "constant": 1.0,
            "rated_rarely": rated,
            "rated_often": np.where(np.arange(rows) < 40, rng.integers(0, 3, rows), np.nan),
            "plan": rng.choice(["a", "b"], rows),
        }
    )
    names = list(frame.columns)
    coverage = {"rated_rarely": 0.05, "rated_often": 0.05}
    kept, dropped = informative_features(frame, names, ["plan"], min_coverage=coverage)
    assert kept == ["varies", "rated_often", "plan"]
    assert dropped == {"empty": "empty", "constant": "constant", "rated_rarely": "sparse"}
    kept_without, _ = informative_features(frame, names, ["plan"])
    assert "rated_rarely" in kept_without
