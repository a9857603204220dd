"""Exact path-dependent TreeSHAP for binary LightGBM boosters, compiled with numba.

It returns what ``booster.predict(X, pred_contrib=True)`` returns (per-feature contributions in
log-odds plus the base value in the last column; equal to about 1e-13), a few times faster,
because the per-leaf ``O(depth^2)`` EXTEND/UNWIND work of the classic algorithm is replaced by a
sum over the tree's nodes (the idea of "Linear TreeShap", Yu et al., NeurIPS 2022):

For a leaf ``l`` with value ``v``, the unique features ``j`` on its path have a zero fraction
``z_j`` (product of the cover ratios of the path's splits on ``j``) and a one fraction ``o_j``
(1 if the row satisfies all of those splits, else 0). With
``R_l(t) = v * prod_j (z_j + (o_j - z_j) t)``, the Shapley value that the leaf gives feature ``i``
is ``(o_i - z_i) * integral_0^1 R_l(t) / (z_i + (o_i - z_i) t) dt`` (a Beta integral of the
Shapley weights). ``R_l`` is kept as its values at ``G`` Gauss-Legendre points, which integrate
it exactly because its degree is at most the path length ``d`` and ``G = ceil(d / 2)``. Summing
``R_l`` over the leaves below an edge (one pass down for the path products, one pass up for the
sums) gives every feature's share at the deepest split on it; a feature split again lower down
has the part below the repeat subtracted at the repeat, where the merged fractions change.
Cost per row: ``O(nodes * G)`` per tree instead of ``O(leaves * depth^2)``. Factors are worked
out as needed rather than tabled per node and point: a request explaining one row runs amid
other work, and the smaller working set stays in cache (tables made such a request ~15% slower).
The same pass adds up the leaves the row reaches, so the raw margin comes with the
contributions. A few rows are explained one by one in the calling thread; larger batches in
blocks of rows, vectorised over the rows and spread over the cores. The kernels release the GIL.

Decisions follow LightGBM's ``Tree::NumericalDecision`` / ``CategoricalDecision`` (missing types,
default directions, category bitsets). A booster with a node of zero data count falls back to
LightGBM's own ``pred_contrib``; linear trees are refused (LightGBM refuses them too).
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from vitals.models.baseline_shap_kernels import change_parallel, change_rows
from vitals.models.forest import flatten
from vitals.models.treeshap_kernels import shap_parallel, shap_rows

_CHUNK = 32  # rows per block (and parallel task); up to this many go row by row in this thread


class TreeShap:
    """TreeSHAP contributions of one binary LightGBM booster.

    Args:
        booster: a trained binary booster (one tree per iteration). Its trees are read once, here.

    Raises:
        ValueError: when the booster is not a single-output (binary) model, or has linear trees.
    """

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster
        model = booster.dump_model()
        if model.get("num_tree_per_iteration", 1) != 1:
            raise ValueError("TreeShap needs a binary booster with one tree per iteration")
        self.n_features = int(model["max_feature_idx"]) + 1
        self.feature_names: list[str] = list(model["feature_names"])
        self.categorical_features = _categorical(booster, model)
        self._forest = flatten(model["tree_info"])

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-feature contributions in log-odds, base value in the last column.

        Args:
            X: float64 matrix (rows x booster features), NaN for missing, category codes for
                categorical features.

        Returns:
            Array of shape (rows, features + 1); each row sums to the raw margin.

        Raises:
            ValueError: a matrix of another width than the booster's features.
        """
        return self.explain(X)[1]

    def explain(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw margins and contributions of each row, from one pass over the trees.

        Args:
            X: as for :meth:`contributions`.

        Returns:
            ``(margins, contributions)``: the margins equal ``predict(raw_score=True)`` (the
            reached leaves added tree after tree, as LightGBM does); the contributions are
            those of :meth:`contributions`.

        Raises:
            ValueError: a matrix of another width than the booster's features.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected a matrix with {self.n_features} columns, got {X.shape}")
        if not self._forest.weighed:
            phi = np.asarray(self.booster.predict(X, pred_contrib=True), dtype=np.float64)
            return np.asarray(self.booster.predict(X, raw_score=True), dtype=np.float64), phi
        f = self._forest
        out = np.zeros((X.shape[0], self.n_features + 1))
        out[:, -1] = f.base_value
        margins = np.empty(X.shape[0])
        args = f.kernel_arguments()
        if X.shape[0] <= _CHUNK:
            shap_rows(X, out, margins, 0, X.shape[0], *args)
        else:
            shap_parallel(X, out, margins, _CHUNK, *args)
        return margins, out

    def change(self, X: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Baseline Shapley values of ``f(X) - f(reference)``, row by row, in log-odds.

        The game in which each feature keeps its reference value or takes its value in ``X``
        (interventional TreeSHAP with the reference row as the only background row; see
        :mod:`vitals.models.baseline_shap_kernels`). A feature with the same value in both rows
        gets exactly 0, and each row sums to the change of the raw margin.

        Args:
            X: the later rows, as for :meth:`contributions`.
            reference: the earlier rows, same shape, row for row.

        Returns:
            Array of shape (rows, features).

        Raises:
            ValueError: matrices of another width than the booster's features or of unequal
                shapes.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        Z = np.ascontiguousarray(reference, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features or X.shape != Z.shape:
            raise ValueError(
                f"expected two matrices of equal shape with {self.n_features} columns, "
                f"got {X.shape} and {Z.shape}"
            )
        out = np.zeros((X.shape[0], self.n_features))
        args = self._forest.change_arguments()
        if X.shape[0] <= _CHUNK:
            change_rows(X, Z, out, 0, X.shape[0], *args)
        else:
            change_parallel(X, Z, out, _CHUNK, *args)
        return out


_DECLARED = "[categorical_feature:"


def _categorical(booster: lgb.Booster, model: dict) -> list[str]:
    """The features the booster treats as categorical, in feature order.

    The training parameters kept in the model text name them. ``feature_infos`` lists levels only
    for those the training rows held more than one value of: a profile's own booster sees one
    segment, and its segment column would be missing (models without the parameters fall back
    to it).
    """
    names = list(model["feature_names"])
    text = booster.model_to_string()
    start = text.find(_DECLARED)
    if start < 0:
        infos = model.get("feature_infos", {})
        return [n for n in names if isinstance(infos.get(n), dict) and infos[n].get("values")]
    listed = text[start + len(_DECLARED) : text.index("]", start)].strip()
    if listed.startswith("name:"):
        declared = set(listed.removeprefix("name:").split(","))
        return [n for n in names if n in declared]
    positions = {int(i) for i in listed.split(",") if i.strip()}
    return [n for i, n in enumerate(names) if i in positions]
