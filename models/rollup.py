"""Rolling account scores up an account hierarchy of any depth.

Definition. The *members* of a parent are the scored accounts in its subtree: every scored
descendant at any depth (leaves, and parents that have usage of their own and so a score), plus
the parent itself when it is scored ("a parent with its own usage counts itself as one more
child"). A parent without a score of its own is not a member of anything; it only groups.
Each member ``m`` has a weight ``w_m`` (1 when weighting by ``count``, its ``contract_value``
when weighting by contract value) and the health of its band ``h_m = 100 * band_weights[band]``
(good 1, average 0.5, poor 0 by default). Then, with ``W = sum of w_m`` over the members:

* ``share_<band>`` = weight of the members in that band / ``W``;
* ``health`` = ``sum over bands of share x band weight x 100`` = weighted mean of ``h_m``;
* ``revenue_at_risk`` = ``sum of churn_probability x contract_value`` over the members, and
  ``renewal_revenue_at_risk`` the same with each member's risk by its next renewal (members
  without one add 0; NaN when no score has a ``renewal_risk`` column);
* each *direct* child (a subtree, or the parent's own usage) costs the parent
  ``sum over its members of w_m x (100 - h_m) / W`` health points; these losses add up to
  ``100 - health``, and the largest are the children that pull the parent down most;
* a measure's reason points at the parent = ``sum over members of w_m / W x its points`` in
  that member's reasons (a member without that measure among its reasons adds 0).

Because members are counted at every level, shares of a grandparent equal the weighted mix of its
children's shares, so the numbers are consistent up the tree. Leaves without a score (e.g. already
churned) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from vitals.models.frames import InputError
from vitals.models.scoring import BANDS

Weighting = Literal["count", "contract_value"]
DEFAULT_BAND_WEIGHTS: dict[str, float] = {"good": 1.0, "average": 0.5, "poor": 0.0}


@dataclass(frozen=True)
class RollUp:
    """Roll-up of every parent account.

    Attributes:
        parents: per parent ``account_id, depth, own_usage, n_accounts, weight, share_good,
            share_average, share_poor, health, contract_value, revenue_at_risk,
            renewal_revenue_at_risk``.
        pulling_down: per parent its direct children that cost it the most health:
            ``parent_id, rank, child_id, child_health, health_points_lost``.
        reasons: per parent its top reasons: ``parent_id, rank, measure, label, health_points``.
    """

    parents: pd.DataFrame
    pulling_down: pd.DataFrame
    reasons: pd.DataFrame


def roll_up(
    tree: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    weighting: Weighting = "count",
    band_weights: Mapping[str, float] | None = None,
    reasons: pd.DataFrame | None = None,
    top_children: int = 3,
    top_reasons: int = 5,
) -> RollUp:
    """Roll account scores up the hierarchy (definition in the module docstring).

    Args:
        tree: ``account_id`` and ``parent_id`` (null at a root) of every account.
        scores: ``account_id, churn_probability, band`` of each scored account, and
            ``contract_value`` (needed for ``weighting="contract_value"`` and revenue at risk).
        weighting: ``count`` or ``contract_value``.
        band_weights: health of each band, 0..1 (default good 1, average 0.5, poor 0).
        reasons: optional long table ``account_id, measure, health_points``, e.g.
            ``HealthModel.explain(...).reasons`` (or ``feature`` and ``label`` in its place).
        top_children: children listed per parent in ``pulling_down``.
        top_reasons: reasons listed per parent.

    Returns:
        A :class:`RollUp`.

    Raises:
        InputError: missing columns, repeated or unknown accounts, an unknown parent, a cycle,
            an unknown band or a missing contract value.
    """
    if weighting not in ("count", "contract_value"):
        raise ValueError(f"weighting must be 'count' or 'contract_value', got {weighting!r}")
    weights = dict(band_weights or DEFAULT_BAND_WEIGHTS)
    ids, parent = parent_positions(tree)
    depth = _depths(ids, parent)
    pos, band, w, h, risk, value = members(ids, scores, weighting, weights)
    is_parent = np.zeros(len(ids), dtype=bool)
    is_parent[parent[parent >= 0]] = True
    anc, member, child = member_positions(parent, pos, is_parent)

    total = np.bincount(anc, weights=w[member], minlength=len(ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        health = np.bincount(anc, weights=(w * h)[member], minlength=len(ids)) / total
        shares = {
            b: np.bincount(anc, weights=(w * (band == b))[member], minlength=len(ids)) / total
            for b in BANDS
        }
    parents_idx = np.flatnonzero(is_parent)
    own = np.zeros(len(ids), dtype=bool)
    own[pos] = True
    parents = pd.DataFrame(
        {
            "account_id": ids[parents_idx],
            "depth": depth[parents_idx],
            "own_usage": own[parents_idx],
            "n_accounts": np.bincount(anc, minlength=len(ids))[parents_idx],
            "weight": total[parents_idx],
            **{f"share_{b}": shares[b][parents_idx] for b in BANDS},
            "health": health[parents_idx],
            "contract_value": np.bincount(anc, weights=value[member], minlength=len(ids))[
                parents_idx
            ],
            "revenue_at_risk": np.bincount(anc, weights=(risk * value)[member], minlength=len(ids))[
                parents_idx
            ],
            "renewal_revenue_at_risk": _renewal_revenue(scores, value, anc, member, len(ids))[
                parents_idx
            ],
        }
    )
    pairs = pd.DataFrame({"anc": anc, "member": member, "child": child})
    pairs["share"] = w[member] / total[anc]
    return RollUp(
        parents=parents,
        pulling_down=_pulling_down(pairs, ids, w, h, top_children),
        reasons=_reasons(pairs, ids, scores, reasons, top_reasons),
    )


def _renewal_revenue(
    scores: pd.DataFrame, value: np.ndarray, anc: np.ndarray, member: np.ndarray, n: int
) -> np.ndarray:
    """Sum of renewal risk x contract value over each account's members."""
    if "renewal_risk" not in scores.columns:
        return np.full(n, np.nan)
    renewal = scores["renewal_risk"].to_numpy(dtype=np.float64, na_value=np.nan)
    at_risk = np.nan_to_num(renewal * value, nan=0.0)
    return np.bincount(anc, weights=at_risk[member], minlength=n)


def parent_positions(tree: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Account ids and the position of each account's parent (-1 at a root)."""
    for column in ("account_id", "parent_id"):
        if column not in tree.columns:
            raise InputError(f"tree is missing column {column!r}")
    ids = tree["account_id"].to_numpy(dtype=object, na_value=None)
    if any(v is None for v in ids):
        raise InputError("tree has a row without an account_id")
    index = pd.Index(ids)
    if index.has_duplicates:
        raise InputError(f"account {index[index.duplicated()][0]!r} repeats in the tree")
    parent_ids = tree["parent_id"].to_numpy(dtype=object, na_value=None)
    has_parent = np.array([p is not None for p in parent_ids], dtype=bool)
    parent = np.full(len(ids), -1, dtype=np.int64)
    parent[has_parent] = index.get_indexer(parent_ids[has_parent])
    unknown = np.flatnonzero(has_parent & (parent < 0))
    if unknown.size:
        i = unknown[0]
        raise InputError(f"account {ids[i]!r}: parent_id {parent_ids[i]!r} is not an account")
    return ids, parent


def _depths(ids: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Depth of every account (roots 0); raises on a cycle, naming its accounts."""
    depth = np.where(parent < 0, 0, -1)
    while True:
        todo = (depth < 0) & (depth[np.maximum(parent, 0)] >= 0) & (parent >= 0)
        if not todo.any():
            break
        depth[todo] = depth[parent[todo]] + 1
    stuck = np.flatnonzero(depth < 0)
    if stuck.size:
        seen: list[int] = []
        node = int(stuck[0])
        while node not in seen:
            seen.append(node)
            node = int(parent[node])
        cycle = [*seen[seen.index(node) :], node]
        path = " -> ".join(repr(ids[i]) for i in cycle)
        raise InputError(f"account hierarchy has a cycle (parent_id): {path}")
    return depth


def members(
    ids: np.ndarray, scores: pd.DataFrame, weighting: Weighting, weights: Mapping[str, float]
) -> tuple[np.ndarray, ...]:
    """Tree position, band, weight, band health, churn probability and contract value per score."""
    needed = ["account_id", "churn_probability", "band"]
    if weighting == "contract_value":
        needed.append("contract_value")
    if missing := [c for c in needed if c not in scores.columns]:
        raise InputError(f"scores are missing column(s) {missing}")
    scored = scores["account_id"].to_numpy(dtype=object, na_value=None)
    if pd.Index(scored).has_duplicates:
        index = pd.Index(scored)
        raise InputError(f"account {index[index.duplicated()][0]!r} repeats in the scores")
    pos = pd.Index(ids).get_indexer(scored)
    if (pos < 0).any():
        raise InputError(f"scored account {scored[pos < 0][0]!r} is not in the tree")
    band = scores["band"].to_numpy(dtype=object, na_value=None)
    if bad := [i for i, b in enumerate(band) if b not in weights]:
        raise InputError(
            f"account {scored[bad[0]]!r}: band {band[bad[0]]!r} is not one of {list(weights)}"
        )
    h = 100.0 * np.array([weights[b] for b in band], dtype=np.float64)
    risk = scores["churn_probability"].to_numpy(dtype=np.float64, na_value=np.nan)
    if "contract_value" in scores.columns:
        value = scores["contract_value"].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        value = np.full(len(scored), np.nan)
    if weighting == "contract_value":
        bad_value = np.flatnonzero(~(value >= 0))
        if bad_value.size:
            raise InputError(
                f"account {scored[bad_value[0]]!r}: column 'contract_value' must be a number >= 0 "
                f"to weight by contract value, got {value[bad_value[0]]!r}"
            )
        w = value
    else:
        w = np.ones(len(scored))
    return pos, band, w, h, risk, value


def member_positions(
    parent: np.ndarray, pos: np.ndarray, is_parent: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ancestor, member row, direct child of the ancestor on the way) for every member."""
    own = np.flatnonzero(is_parent[pos])
    anc, member, child = [pos[own]], [own], [pos[own]]
    rows = np.arange(len(pos))
    below = pos.copy()
    up = parent[pos]
    while (active := up >= 0).any():
        rows, below, up = rows[active], below[active], up[active]
        anc.append(up)
        member.append(rows)
        child.append(below)
        below, up = up, parent[up]
    return np.concatenate(anc), np.concatenate(member), np.concatenate(child)


def _pulling_down(
    pairs: pd.DataFrame, ids: np.ndarray, w: np.ndarray, h: np.ndarray, top: int
) -> pd.DataFrame:
    frame = pairs.assign(
        lost=pairs["share"] * (100.0 - h[pairs["member"]]),
        wh=w[pairs["member"]] * h[pairs["member"]],
        w=w[pairs["member"]],
    )
    by_child = frame.groupby(["anc", "child"], sort=False)[["lost", "wh", "w"]].sum().reset_index()
    by_child = by_child[by_child["lost"] > 0].sort_values(["anc", "lost"], ascending=[True, False])
    by_child["rank"] = by_child.groupby("anc").cumcount() + 1
    by_child = by_child[by_child["rank"] <= top]
    with np.errstate(invalid="ignore", divide="ignore"):
        child_health = (by_child["wh"] / by_child["w"]).to_numpy()
    return pd.DataFrame(
        {
            "parent_id": ids[by_child["anc"].to_numpy()],
            "rank": by_child["rank"].to_numpy(),
            "child_id": ids[by_child["child"].to_numpy()],
            "child_health": child_health,
            "health_points_lost": by_child["lost"].to_numpy(),
        }
    )


def _reasons(
    pairs: pd.DataFrame,
    ids: np.ndarray,
    scores: pd.DataFrame,
    reasons: pd.DataFrame | None,
    top: int,
) -> pd.DataFrame:
    columns = ["parent_id", "rank", "measure", "label", "health_points"]
    if reasons is None or reasons.empty:
        return pd.DataFrame(columns=columns)
    key = "measure" if "measure" in reasons.columns else "feature"
    if missing := [c for c in ("account_id", key, "health_points") if c not in reasons.columns]:
        raise InputError(f"reasons are missing column(s) {missing}")
    row_of = pd.Index(scores["account_id"].to_numpy(dtype=object, na_value=None))
    member = row_of.get_indexer(reasons["account_id"].to_numpy(dtype=object, na_value=None))
    if (member < 0).any():
        unknown = reasons["account_id"].iloc[np.flatnonzero(member < 0)[0]]
        raise InputError(f"reasons name account {unknown!r}, which has no score")
    labels = reasons["label"] if key == "feature" and "label" in reasons.columns else reasons[key]
    long = pd.DataFrame(
        {
            "member": member,
            "measure": reasons[key].to_numpy(dtype=object),
            "label": labels.to_numpy(dtype=object),
            "points": reasons["health_points"].to_numpy(dtype=np.float64),
        }
    ).merge(pairs[["anc", "member", "share"]], on="member")
    long["points"] *= long["share"]
    agg = (
        long.groupby(["anc", "measure"], sort=False)
        .agg(label=("label", "first"), points=("points", "sum"))
        .reset_index()
    )
    agg["size"] = -agg["points"].abs()
    agg = agg.sort_values(["anc", "size"])
    agg["rank"] = agg.groupby("anc").cumcount() + 1
    agg = agg[agg["rank"] <= top]
    return pd.DataFrame(
        {
            "parent_id": ids[agg["anc"].to_numpy()],
            "rank": agg["rank"].to_numpy(),
            "measure": agg["measure"].to_numpy(),
            "label": agg["label"].to_numpy(),
            "health_points": agg["points"].to_numpy(),
        }
    )
