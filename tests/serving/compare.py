"""Comparing stored score and roll-up rows up to floating-point noise."""

from __future__ import annotations

import json
import math
import re

import pandas as pd

TOLERANCE = 1e-9
# engines may sum to 443.99999999999994 or to 444.0, which reason sentences print as
# "444.0" and "444": drop a ".0" before comparing sentences
_WHOLE = re.compile(r"(\d)\.0\b")


def assert_close_rows(left: pd.DataFrame, right: pd.DataFrame, key: list[str]) -> None:
    """Same rows and values; floats (also inside JSON text columns) equal within 1e-9."""
    left = left.sort_values(key).reset_index(drop=True)
    right = right.sort_values(key).reset_index(drop=True)
    assert list(left.columns) == list(right.columns)
    assert left[key].astype(str).equals(right[key].astype(str)), "different rows"
    for column in left.columns:
        for i, (a, b) in enumerate(zip(left[column], right[column], strict=True)):
            if isinstance(a, str) and a[:1] in "[{":
                a, b = json.loads(a), json.loads(b)
            assert _close(a, b), f"{column} differs at {left.loc[i, key].tolist()}: {a!r} != {b!r}"


def _close(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        if "sentence" in a and "sentence" in b:
            a = {**a, "sentence": _WHOLE.sub(r"\1", a["sentence"])}
            b = {**b, "sentence": _WHOLE.sub(r"\1", b["sentence"])}
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return a == b


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
