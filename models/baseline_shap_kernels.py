"""Numba kernels for baseline Shapley values of a score change (see :mod:`vitals.models.treeshap`).

The game: a feature either keeps its earlier value (reference row ``z``) or takes its new one
(row ``x``), so ``v(S) = f(x_S, z_rest)``. For one tree, follow both rows from the root. At a
split on a feature that sends ``x`` and ``z`` the same way, the feature does not matter there.
Where they part, the branch ``x`` takes needs the feature in ``S`` (set ``A`` of the path) and the
branch ``z`` takes needs it out of ``S`` (set ``B``); a feature already in ``A`` or ``B`` higher up
follows only its own side. A leaf reached with sets ``A`` and ``B`` (``a`` and ``b`` features)
counts in ``v(S)`` exactly when ``A`` is in ``S`` and ``B`` is not, so it gives each feature of
``A`` ``value * (a-1)! b! / (a+b)!`` and each feature of ``B`` ``-value * a! (b-1)! / (a+b)!``
(the Shapley value of that unanimity game). A feature equal in both rows is never in ``A`` or
``B`` and gets exactly 0, and the values of a tree sum to ``f_t(x) - f_t(z)``.

One pass down the pre-ordered nodes tracks each node's sets; one pass up sums the leaf weights
below each edge and credits them to the feature the edge put into ``A`` or ``B``: ``O(nodes)`` per
tree and pair, the linear form of interventional TreeSHAP with a single reference row.
"""

from __future__ import annotations

import numba
import numpy as np

from vitals.models.treeshap_kernels import decide

_FREE, _IN_A, _IN_B = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def change_rows(
    X,
    Z,
    out,
    first,
    last,
    parent,
    is_left,
    feature,
    threshold,
    missing,
    default_left,
    categorical,
    cat_start,
    cat_words,
    cat_bits,
    value,
    previous,
    tree_start,
    weight_a,
    weight_b,
    max_nodes,
):
    """Add the baseline Shapley values of rows ``first..last-1`` of ``X`` vs ``Z`` to ``out``."""
    reach = np.empty(max_nodes, np.bool_)
    count_a = np.empty(max_nodes, np.int64)
    count_b = np.empty(max_nodes, np.int64)
    state = np.empty(max_nodes, np.int8)  # the edge's feature after the edge: free, in A, in B
    assigned = np.empty(max_nodes, np.int8)  # what the edge newly put its feature into
    sum_a = np.empty(max_nodes)  # leaf weights below, for the features in A
    sum_b = np.empty(max_nodes)
    left = np.zeros((feature.shape[0], 2), np.bool_)
    for r in range(first, last):
        decide(X[r], left, 0, feature, threshold, missing, default_left, categorical,
               cat_start, cat_words, cat_bits)  # fmt: skip
        decide(Z[r], left, 1, feature, threshold, missing, default_left, categorical,
               cat_start, cat_words, cat_bits)  # fmt: skip
        for t in range(tree_start.shape[0] - 1):
            start, end = tree_start[t], tree_start[t + 1]
            for node in range(start, end):
                i = node - start
                sum_a[i] = 0.0
                sum_b[i] = 0.0
                assigned[i] = _FREE
                p = parent[node]
                if p < 0:
                    reach[i], count_a[i], count_b[i], state[i] = True, 0, 0, _FREE
                    continue
                q = p - start
                reach[i] = False
                if not reach[q]:
                    continue
                count_a[i], count_b[i] = count_a[q], count_b[q]
                x_goes = left[p, 0] == is_left[node]
                z_goes = left[p, 1] == is_left[node]
                prior = state[previous[node] - start] if previous[node] >= 0 else _FREE
                state[i] = prior
                if prior == _IN_A:
                    reach[i] = x_goes
                elif prior == _IN_B:
                    reach[i] = z_goes
                elif x_goes and z_goes:
                    reach[i] = True
                elif x_goes:
                    reach[i], state[i], assigned[i] = True, _IN_A, _IN_A
                    count_a[i] += 1
                elif z_goes:
                    reach[i], state[i], assigned[i] = True, _IN_B, _IN_B
                    count_b[i] += 1
            for node in range(end - 1, start - 1, -1):
                i = node - start
                if not reach[i]:
                    continue
                if feature[node] < 0:
                    sum_a[i] = value[node] * weight_a[count_a[i], count_b[i]]
                    sum_b[i] = value[node] * weight_b[count_a[i], count_b[i]]
                p = parent[node]
                if p < 0:
                    continue
                if assigned[i] == _IN_A:
                    out[r, feature[p]] += sum_a[i]
                elif assigned[i] == _IN_B:
                    out[r, feature[p]] += sum_b[i]
                sum_a[p - start] += sum_a[i]
                sum_b[p - start] += sum_b[i]


@numba.njit(cache=True, parallel=True, nogil=True)
def change_parallel(X, Z, out, chunk, *args):
    """:func:`change_rows` over blocks of ``chunk`` rows, spread over the cores."""
    n_chunks = (X.shape[0] + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        change_rows(X, Z, out, c * chunk, min(X.shape[0], (c + 1) * chunk), *args)
