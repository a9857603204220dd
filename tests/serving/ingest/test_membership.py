"""Which ids are among the touched accounts, whatever the column holds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vitals.serving.ingest.rescoring import _among


@pytest.mark.parametrize(
    "ids",
    [
        pd.Series(["A1", "A2", None, "A3"], dtype=object),
        pd.Series(["A1", "A2", None, "A3"], dtype="str"),
        pd.Series(["A1", "A2", None, "A3"], dtype="string[pyarrow]"),
        pd.Series(pd.Categorical(["A1", "A2", None, "A3"])),
    ],
    ids=["object", "str", "arrow", "categorical"],
)
def test_text_ids_match_as_pandas_isin_would(ids: pd.Series) -> None:
    wanted = ["A3", "A1", "B9"]
    np.testing.assert_array_equal(_among(ids, wanted), [True, False, False, True])
    assert not _among(ids, []).any()


@pytest.mark.parametrize(
    "ids",
    [
        pd.Series([None, None], dtype=object),
        pd.Series([np.nan, np.nan]),
        pd.Series([], dtype=object),
    ],
    ids=["all-missing", "all-nan-floats", "empty"],
)
def test_columns_without_text_match_nothing(ids: pd.Series) -> None:
    assert not _among(ids, ["A1"]).any()
    assert len(_among(ids, ["A1"])) == len(ids)
