"""The report's CSM-sentiment section: the rating alone as a ranking, on the rated test rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vitals.training.sentiment_eval import sentiment_section


def test_sentiment_alone_is_scored_on_the_rated_rows_beside_vitals() -> None:
    rating = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, np.nan, np.nan]
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0])
    vitals = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.1, 0.5, 0.5])
    found = sentiment_section(pd.DataFrame({"sentiment_latest": rating}), y, vitals)
    assert found["rated_rows"] == 6 and found["rated_share"] == pytest.approx(0.75)
    # churners rated red, yellow; stayers red, yellow, green, green. Of the 8 pairs, the red
    # churner beats yellow and both greens and ties red (3.5); the yellow churner beats both
    # greens, ties yellow and loses to red (2.5): 6 / 8
    assert found["auc"] == pytest.approx(6 / 8)
    assert found["vitals_auc_same_rows"] == pytest.approx(1.0)
    assert found["by_rating"]["red"] == {"rows": 2, "churn_rate": 0.5}
    assert found["by_rating"]["green"] == {"rows": 2, "churn_rate": 0.0}
    assert found["by_rating"]["none"] == {"rows": 2, "churn_rate": 0.5}
    assert sentiment_section(pd.DataFrame({"x": [1.0]}), y[:1], vitals[:1])["available"] is False
