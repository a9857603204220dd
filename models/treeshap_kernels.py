"""The numba kernels behind :class:`vitals.models.treeshap.TreeShap` (the algorithm is described
there).

:func:`shap_block` explains a block of rows with the row loop innermost; :func:`shap_parallel`
splits a batch into such blocks and spreads them over the cores; :func:`shap_rows` does a block's
arithmetic one row at a time, faster for a few rows. A row gets the same values, to the last bit,
whichever explains it and whatever rows come with it. All take the arrays of
:meth:`vitals.models.forest.Forest.kernel_arguments` and write the
contributions (``out``) and raw margins (``margins``) of the rows. Split decisions follow
LightGBM's ``Tree::NumericalDecision`` / ``CategoricalDecision`` (:func:`decide`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_ZERO = 1e-35  # LightGBM's kZeroThreshold


@numba.njit(cache=True, nogil=True)
def decide(
    x,
    left,
    col,
    feature,
    threshold,
    missing,
    default_left,
    categorical,
    cat_start,
    cat_words,
    cat_bits,
):
    """Set ``left[node, col]`` to whether row ``x`` goes left at every split of the forest.

    One call per row on purpose: a numba function called once per node, with the arrays as
    arguments, costs more than the decision itself.
    """
    for node in range(feature.shape[0]):
        f = feature[node]
        if f < 0:
            continue
        fval = x[f]
        if categorical[node]:
            goes = False
            if not (math.isnan(fval) or fval < 0.0):
                code = int(fval)
                word = code // 32
                if word < cat_words[node]:
                    goes = ((cat_bits[cat_start[node] + word] >> (code % 32)) & 1) == 1
            left[node, col] = goes
            continue
        kind = missing[node]
        if math.isnan(fval) and kind != 2:
            fval = 0.0
        if (kind == 1 and -_ZERO <= fval <= _ZERO) or (kind == 2 and math.isnan(fval)):
            left[node, col] = default_left[node]
        else:
            left[node, col] = fval <= threshold[node]


@numba.njit(cache=True, nogil=True)
def shap_rows(
    X,
    out,
    margins,
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
    zero_fraction,
    previous,
    tree_start,
    tree_points,
    gauss_t,
    gauss_w,
    max_nodes,
):
    """:func:`shap_block` one row at a time, for a few rows: the same arithmetic in the same
    order (so the same values to the last bit), without a block's arrays to fill."""
    G0 = gauss_t.shape[1]
    path = np.empty((max_nodes, G0))
    below = np.empty((max_nodes, G0))
    one = np.empty(max_nodes)
    reach = np.empty(max_nodes, np.bool_)
    left = np.empty((feature.shape[0], 1), np.bool_)
    for r in range(first, last):
        decide(
            X[r],
            left,
            0,
            feature,
            threshold,
            missing,
            default_left,
            categorical,
            cat_start,
            cat_words,
            cat_bits,
        )
        margin = 0.0
        for t in range(tree_start.shape[0] - 1):
            s = tree_start[t]
            n = tree_start[t + 1] - s
            g_n = tree_points[t]
            if n == 1:
                margin += value[s]
                continue
            for k in range(n):
                node = s + k
                if k == 0:
                    reach[0] = True
                    for g in range(g_n):
                        path[0, g] = 1.0
                else:
                    p = parent[node] - s
                    isl = is_left[node]
                    reach[k] = reach[p] and left[parent[node], 0] == isl
                    prev = previous[node]
                    z = zero_fraction[node]
                    if prev >= 0:
                        pl = prev - s
                        zp = zero_fraction[prev]
                        one[k] = (1.0 if left[parent[node], 0] == isl else 0.0) * one[pl]
                        o, o_prev = one[k], one[pl]
                        for g in range(g_n):
                            tg = gauss_t[g_n, g]
                            n0 = z * (1.0 - tg)
                            n1 = z + (1.0 - z) * tg
                            # the block's d0 or d1, picked exactly, with one division
                            den0 = zp * (1.0 - tg)
                            den1 = zp + (1.0 - zp) * tg
                            den = den0 * (1.0 - o_prev) + den1 * o_prev
                            path[k, g] = path[p, g] * (n0 * (1.0 - o) + n1 * o) * (1.0 / den)
                    else:
                        one[k] = 1.0 if left[parent[node], 0] == isl else 0.0
                        o = one[k]
                        for g in range(g_n):
                            tg = gauss_t[g_n, g]
                            n0 = z * (1.0 - tg)
                            n1 = z + (1.0 - z) * tg
                            path[k, g] = path[p, g] * (n0 * (1.0 - o) + n1 * o)
                if feature[node] >= 0:
                    for g in range(g_n):
                        below[k, g] = 0.0
                else:
                    v = value[node]
                    if reach[k]:
                        margin += v
                    for g in range(g_n):
                        below[k, g] = v * path[k, g]
            for k in range(n - 1, 0, -1):
                node = s + k
                p = parent[node] - s
                z = zero_fraction[node]
                prev = previous[node]
                acc = 0.0
                if prev >= 0:
                    pl = prev - s
                    zp = zero_fraction[prev]
                    o, o_prev = one[k], one[pl]
                    for g in range(g_n):
                        tg = gauss_t[g_n, g]
                        c0 = -1.0 / (1.0 - tg)
                        c1 = (1.0 - z) / (z + (1.0 - z) * tg)
                        e1 = (1.0 - zp) / (zp + (1.0 - zp) * tg)
                        b = below[k, g]
                        below[p, g] += b
                        acc += gauss_w[g_n, g] * b * ((c1 - c0) * o - (e1 - c0) * o_prev)
                else:
                    o = one[k]
                    for g in range(g_n):
                        tg = gauss_t[g_n, g]
                        # the block's c0 or c1, picked exactly, with one division
                        num = (1.0 - z) * o + (-1.0) * (1.0 - o)
                        den = (z + (1.0 - z) * tg) * o + (1.0 - tg) * (1.0 - o)
                        b = below[k, g]
                        below[p, g] += b
                        acc += gauss_w[g_n, g] * b * (num / den)
                out[r, feature[parent[node]]] += acc
        margins[r] = margin


@numba.njit(cache=True, nogil=True)
def shap_block(
    X,
    out,
    margins,
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
    zero_fraction,
    previous,
    tree_start,
    tree_points,
    gauss_t,
    gauss_w,
    max_nodes,
):
    """Explain rows ``first`` to ``last`` (exclusive) at once: the row loop is innermost, so it
    vectorises. Each row's arithmetic is the same whatever the block holds, so a row's values do
    not depend on the rows explained with it (incremental scores equal batch ones bit for bit).

    With one fractions of 0 or 1, each factor ``z + (o - z) t`` and each share
    ``(o - z) / (z + (o - z) t)`` takes one of two values per Gauss point, worked out once per
    node and picked per row, so the inner loops have no division.
    """
    B = last - first
    G0 = gauss_t.shape[1]
    path = np.empty((max_nodes, G0, B))
    below = np.empty((max_nodes, G0, B))
    one = np.empty((max_nodes, B))
    reach = np.empty((max_nodes, B), np.bool_)
    margin = np.zeros(B)
    left = np.empty((feature.shape[0], B), np.bool_)
    for r in range(B):
        decide(
            X[first + r],
            left,
            r,
            feature,
            threshold,
            missing,
            default_left,
            categorical,
            cat_start,
            cat_words,
            cat_bits,
        )
    acc = np.empty(B)
    for t in range(tree_start.shape[0] - 1):
        s = tree_start[t]
        n = tree_start[t + 1] - s
        g_n = tree_points[t]
        if n == 1:
            for r in range(B):
                margin[r] += value[s]
            continue
        for k in range(n):
            node = s + k
            if k == 0:
                for r in range(B):
                    reach[0, r] = True
                for g in range(g_n):
                    for r in range(B):
                        path[0, g, r] = 1.0
            else:
                p = parent[node] - s
                isl = is_left[node]
                for r in range(B):
                    reach[k, r] = reach[p, r] and left[parent[node], r] == isl
                prev = previous[node]
                z = zero_fraction[node]
                if prev >= 0:
                    pl = prev - s
                    zp = zero_fraction[prev]
                    for r in range(B):
                        one[k, r] = (1.0 if left[parent[node], r] == isl else 0.0) * one[pl, r]
                    for g in range(g_n):
                        tg = gauss_t[g_n, g]
                        n0 = z * (1.0 - tg)
                        n1 = z + (1.0 - z) * tg
                        d0 = 1.0 / (zp * (1.0 - tg))
                        d1 = 1.0 / (zp + (1.0 - zp) * tg)
                        for r in range(B):
                            o, o_prev = one[k, r], one[pl, r]
                            path[k, g, r] = (
                                path[p, g, r]
                                * (n0 * (1.0 - o) + n1 * o)
                                * (d0 * (1.0 - o_prev) + d1 * o_prev)
                            )
                else:
                    for r in range(B):
                        one[k, r] = 1.0 if left[parent[node], r] == isl else 0.0
                    for g in range(g_n):
                        tg = gauss_t[g_n, g]
                        n0 = z * (1.0 - tg)
                        n1 = z + (1.0 - z) * tg
                        for r in range(B):
                            o = one[k, r]
                            path[k, g, r] = path[p, g, r] * (n0 * (1.0 - o) + n1 * o)
            if feature[node] >= 0:
                for g in range(g_n):
                    for r in range(B):
                        below[k, g, r] = 0.0
            else:
                v = value[node]
                for r in range(B):
                    if reach[k, r]:
                        margin[r] += v
                for g in range(g_n):
                    for r in range(B):
                        below[k, g, r] = v * path[k, g, r]
        for k in range(n - 1, 0, -1):
            node = s + k
            p = parent[node] - s
            z = zero_fraction[node]
            prev = previous[node]
            for r in range(B):
                acc[r] = 0.0
            if prev >= 0:
                pl = prev - s
                zp = zero_fraction[prev]
                for g in range(g_n):
                    tg = gauss_t[g_n, g]
                    w = gauss_w[g_n, g]
                    c0 = -1.0 / (1.0 - tg)
                    c1 = (1.0 - z) / (z + (1.0 - z) * tg)
                    e1 = (1.0 - zp) / (zp + (1.0 - zp) * tg)
                    for r in range(B):
                        b = below[k, g, r]
                        below[p, g, r] += b
                        acc[r] += w * b * ((c1 - c0) * one[k, r] - (e1 - c0) * one[pl, r])
            else:
                for g in range(g_n):
                    tg = gauss_t[g_n, g]
                    w = gauss_w[g_n, g]
                    c0 = -1.0 / (1.0 - tg)
                    c1 = (1.0 - z) / (z + (1.0 - z) * tg)
                    for r in range(B):
                        b = below[k, g, r]
                        below[p, g, r] += b
                        o = one[k, r]
                        acc[r] += w * b * (c0 * (1.0 - o) + c1 * o)
            f = feature[parent[node]]
            for r in range(B):
                out[first + r, f] += acc[r]
    for r in range(B):
        margins[first + r] = margin[r]


@numba.njit(cache=True, parallel=True, nogil=True)
def shap_parallel(X, out, margins, chunk, *args):
    n_chunks = (X.shape[0] + chunk - 1) // chunk
    for c in numba.prange(n_chunks):
        shap_block(X, out, margins, c * chunk, min(X.shape[0], (c + 1) * chunk), *args)
