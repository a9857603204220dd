"""A LightGBM booster's trees flattened into arrays for the TreeSHAP kernels.

Nodes are stored tree after tree in pre-order (a parent before its children), with, for the
edge into each node, the merged zero fraction of the path's splits on the parent's feature and
the previous edge on the same path that split on that feature (see :mod:`vitals.models.treeshap`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}


@dataclass(frozen=True)
class Forest:
    """All trees of a booster flattened into arrays, nodes in pre-order per tree."""

    parent: np.ndarray  # int32, global index of the parent node, -1 at a root
    is_left: np.ndarray  # bool, node is its parent's left child
    feature: np.ndarray  # int32, split feature of an internal node, -1 at a leaf
    threshold: np.ndarray  # float64, numeric split threshold
    missing: np.ndarray  # int8, 0 none / 1 zero / 2 NaN
    default_left: np.ndarray  # bool
    categorical: np.ndarray  # bool, categorical split
    cat_start: np.ndarray  # int32, first bitset word of a categorical split
    cat_words: np.ndarray  # int32, number of bitset words
    cat_bits: np.ndarray  # uint32, all category bitsets
    value: np.ndarray  # float64, leaf value
    zero_fraction: np.ndarray  # float64, merged zero fraction of the edge into the node
    previous: np.ndarray  # int32, edge of the previous split on the same feature on the path, -1
    tree_start: np.ndarray  # int32, first node of each tree, plus the total at the end
    tree_points: np.ndarray  # int32, Gauss points used for each tree
    gauss_t: np.ndarray  # float64 (G+1, G): row g holds the g points mapped to [0, 1]
    gauss_w: np.ndarray  # float64 (G+1, G): their weights, summing to 1
    base_value: float
    max_nodes: int
    weighed: bool  # every node has training data (path-dependent TreeSHAP weighs by it)
    change_weight_a: np.ndarray  # float64 (D+1, D+1): a leaf's Shapley weight for a feature in A
    change_weight_b: np.ndarray  # float64 (D+1, D+1): the same for a feature in B (negated)

    def kernel_arguments(self) -> tuple:
        """The arrays in the order the numba kernels take them (after ``X, out, first, last``)."""
        return (
            self.parent, self.is_left, self.feature, self.threshold, self.missing,
            self.default_left, self.categorical, self.cat_start, self.cat_words, self.cat_bits,
            self.value, self.zero_fraction, self.previous, self.tree_start, self.tree_points,
            self.gauss_t, self.gauss_w, self.max_nodes,
        )  # fmt: skip

    def change_arguments(self) -> tuple:
        """The arrays the baseline Shapley kernels take (after ``X, Z, out, first, last``)."""
        return (
            self.parent, self.is_left, self.feature, self.threshold, self.missing,
            self.default_left, self.categorical, self.cat_start, self.cat_words, self.cat_bits,
            self.value, self.previous, self.tree_start, self.change_weight_a,
            self.change_weight_b, self.max_nodes,
        )  # fmt: skip


def flatten(trees: list[dict]) -> Forest:
    """Flatten ``dump_model()`` trees (``weighed`` is false when a node has no training data).

    Raises:
        ValueError: for linear trees, which TreeSHAP does not cover.
    """
    cols: dict[str, list] = {
        k: []
        for k in (
            "parent",
            "is_left",
            "feature",
            "threshold",
            "missing",
            "default_left",
            "categorical",
            "cat_start",
            "cat_words",
            "value",
            "zero_fraction",
            "previous",
        )
    }
    bits: list[int] = []
    counts: list[float] = []
    tree_start, tree_points, base_value, weighed = [0], [], 0.0, True
    for tree in trees:
        root = tree["tree_structure"]
        if "split_index" not in root:
            base_value += float(root["leaf_value"])
        longest = 0
        stack: list[tuple[dict, int, bool, dict[int, int]]] = [(root, -1, False, {})]
        while stack:
            node, parent, is_left, seen = stack.pop()
            index = len(cols["parent"])
            count = float(node["internal_count"] if "split_index" in node else node["leaf_count"])
            weighed = weighed and count > 0
            counts.append(count)
            cols["parent"].append(parent)
            cols["is_left"].append(is_left)
            if parent >= 0:
                feature = cols["feature"][parent]
                prev = seen.get(feature, -1)
                ratio = count / counts[parent] if counts[parent] > 0 else 0.0
                cols["previous"].append(prev)
                cols["zero_fraction"].append(
                    ratio * (cols["zero_fraction"][prev] if prev >= 0 else 1.0)
                )
                seen = {**seen, feature: index}
            else:
                cols["previous"].append(-1)
                cols["zero_fraction"].append(1.0)
            longest = max(longest, len(seen))
            if "split_index" in node:
                _append_split(cols, bits, node)
                stack.append((node["right_child"], index, False, seen))
                stack.append((node["left_child"], index, True, seen))
            elif "leaf_coeff" in node:
                raise ValueError("SHAP values are not defined for linear trees (linear_tree=True)")
            else:
                for key, default in (
                    ("feature", -1),
                    ("threshold", 0.0),
                    ("missing", 0),
                    ("default_left", False),
                    ("categorical", False),
                    ("cat_start", 0),
                    ("cat_words", 0),
                ):
                    cols[key].append(default)
                cols["value"].append(float(node["leaf_value"]))
                if "split_index" in root and weighed:
                    base_value += float(node["leaf_value"]) * count / float(root["internal_count"])
        tree_start.append(len(cols["parent"]))
        tree_points.append(max(1, math.ceil(longest / 2)))
    return _build_forest(cols, bits, tree_start, tree_points, base_value, weighed)


def _change_weights(depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Shapley weights of a leaf whose path needs ``a`` features from the new row and ``b`` from
    the reference: ``(a-1)! b! / (a+b)!`` for each of the ``a``, ``-a! (b-1)! / (a+b)!`` for each
    of the ``b`` (exact integer ratios, rounded once)."""
    weight_a = np.zeros((depth + 1, depth + 1))
    weight_b = np.zeros((depth + 1, depth + 1))
    fact = [math.factorial(k) for k in range(2 * depth + 1)]
    for a in range(depth + 1):
        for b in range(depth + 1 - a):
            if a:
                weight_a[a, b] = fact[a - 1] * fact[b] / fact[a + b]
            if b:
                weight_b[a, b] = -(fact[a] * fact[b - 1] / fact[a + b])
    return weight_a, weight_b


def _append_split(cols: dict[str, list], bits: list[int], node: dict) -> None:
    cols["feature"].append(int(node["split_feature"]))
    cols["missing"].append(_MISSING_TYPES[node["missing_type"]])
    cols["default_left"].append(bool(node["default_left"]))
    cols["value"].append(0.0)
    if node["decision_type"] == "==":
        categories = [int(c) for c in str(node["threshold"]).split("||")]
        words = [0] * (max(categories) // 32 + 1)
        for c in categories:
            words[c // 32] |= 1 << (c % 32)
        cols["categorical"].append(True)
        cols["cat_start"].append(len(bits))
        cols["cat_words"].append(len(words))
        cols["threshold"].append(0.0)
        bits.extend(words)
    else:
        cols["categorical"].append(False)
        cols["cat_start"].append(0)
        cols["cat_words"].append(0)
        cols["threshold"].append(float(node["threshold"]))


def _build_forest(
    cols: dict[str, list],
    bits: list[int],
    tree_start: list[int],
    tree_points: list[int],
    base_value: float,
    weighed: bool,
) -> Forest:
    n_points = max(tree_points) if tree_points else 1
    gauss_t = np.zeros((n_points + 1, n_points))
    gauss_w = np.zeros((n_points + 1, n_points))
    for g in range(1, n_points + 1):
        x, w = np.polynomial.legendre.leggauss(g)
        gauss_t[g, :g] = (x + 1.0) / 2.0
        gauss_w[g, :g] = w / 2.0
    starts = np.asarray(tree_start, dtype=np.int32)
    # a path has at most 2 * tree_points distinct features (tree_points = ceil(longest / 2))
    weight_a, weight_b = _change_weights(2 * n_points)
    return Forest(
        parent=np.asarray(cols["parent"], dtype=np.int32),
        is_left=np.asarray(cols["is_left"], dtype=np.bool_),
        feature=np.asarray(cols["feature"], dtype=np.int32),
        threshold=np.asarray(cols["threshold"], dtype=np.float64),
        missing=np.asarray(cols["missing"], dtype=np.int8),
        default_left=np.asarray(cols["default_left"], dtype=np.bool_),
        categorical=np.asarray(cols["categorical"], dtype=np.bool_),
        cat_start=np.asarray(cols["cat_start"], dtype=np.int32),
        cat_words=np.asarray(cols["cat_words"], dtype=np.int32),
        cat_bits=np.asarray(bits or [0], dtype=np.uint32),
        value=np.asarray(cols["value"], dtype=np.float64),
        zero_fraction=np.asarray(cols["zero_fraction"], dtype=np.float64),
        previous=np.asarray(cols["previous"], dtype=np.int32),
        tree_start=starts,
        tree_points=np.asarray(tree_points, dtype=np.int32),
        gauss_t=gauss_t,
        gauss_w=gauss_w,
        base_value=base_value,
        max_nodes=int(np.diff(starts).max()) if len(starts) > 1 else 1,
        weighed=weighed,
        change_weight_a=weight_a,
        change_weight_b=weight_b,
    )
