"""One-row LightGBM predictions through the C API's "fast" single-row calls.

``Booster.predict`` parses its parameters and builds a predictor on every call, which costs more
than predicting one row with a few hundred trees. LightGBM's C API has a variant made for serving:
``LGBM_BoosterPredictForMatSingleRowFastInit`` prepares the configuration once and
``LGBM_BoosterPredictForMatSingleRowFast`` then scores one row. Both run without the GIL (ctypes
releases it), so the event loop keeps serving while a worker thread predicts.

The booster is loaded from its model text into a handle owned here (nothing is shared with the
Python ``Booster``); the library is the one the ``lightgbm`` package loaded (``lightgbm.basic``'s
``_LIB``, the package's own handle on its shared library). Results equal ``Booster.predict`` with
``raw_score=True`` / ``pred_contrib=True`` exactly (``tests/api/test_scorer.py``).
"""

from __future__ import annotations

import ctypes

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB

_DTYPE_FLOAT64 = 1
_PREDICT_RAW_SCORE = 1
_PREDICT_CONTRIB = 3
_DOUBLE_P = ctypes.POINTER(ctypes.c_double)


def _check(code: int) -> None:
    if code != 0:
        raise RuntimeError(_LIB.LGBM_GetLastError().decode("utf-8"))


class SingleRowBooster:
    """Raw margin and contributions of one row at a time, for one binary booster.

    Args:
        booster: the trained booster (its model text is copied).

    Thread-safe: LightGBM serialises single-row calls on one handle with its own lock. The C
    handles are freed when the object is garbage-collected.
    """

    def __init__(self, booster: lgb.Booster) -> None:
        self.n_features = booster.num_feature()
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int()
        text = booster.model_to_string().encode("utf-8")
        _check(
            _LIB.LGBM_BoosterLoadModelFromString(
                ctypes.c_char_p(text), ctypes.byref(iterations), ctypes.byref(self._handle)
            )
        )
        self._raw = self._fast_config(_PREDICT_RAW_SCORE)
        self._contrib = self._fast_config(_PREDICT_CONTRIB)

    def _fast_config(self, predict_type: int) -> ctypes.c_void_p:
        config = ctypes.c_void_p()
        _check(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                self._handle,
                ctypes.c_int(predict_type),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(-1),  # all iterations (the copy holds the best ones only)
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(self.n_features),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(config),
            )
        )
        return config

    def margin_and_contributions(self, row: np.ndarray) -> tuple[float, np.ndarray]:
        """Raw margin and per-feature contributions (base value last) of one row.

        Args:
            row: float64 vector of the booster's features (NaN for missing, category codes).

        Returns:
            ``(margin, contributions)``, like ``predict(raw_score=True)`` and
            ``predict(pred_contrib=True)`` on that row.
        """
        x = np.ascontiguousarray(row, dtype=np.float64)
        if x.shape != (self.n_features,):
            raise ValueError(f"expected {self.n_features} features, got shape {x.shape}")
        margin = np.empty(1)
        phi = np.empty(self.n_features + 1)
        written = ctypes.c_int64()
        source = x.ctypes.data_as(_DOUBLE_P)
        for config, out in ((self._raw, margin), (self._contrib, phi)):
            _check(
                _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                    config, source, ctypes.byref(written), out.ctypes.data_as(_DOUBLE_P)
                )
            )
        return float(margin[0]), phi

    def __del__(self) -> None:
        # freed only when no request holds the scorer any more (a reload just drops it)
        if _LIB is not None and getattr(self, "_contrib", None) is not None:
            _LIB.LGBM_FastConfigFree(self._raw)
            _LIB.LGBM_FastConfigFree(self._contrib)
            _LIB.LGBM_BoosterFree(self._handle)
