"""A parent's health change between two dates, split into its direct children's moves.

A parent's health is ``H = sum over members m of s_m h_m`` (see :mod:`vitals.models.rollup`:
``s_m = w_m / W`` the member's share of the weight, ``h_m`` the health of its band). Between an
earlier date (0) and a later one (1) each member adds to ``H1 - H0``:

* present at both dates: ``band moved = (s0 + s1) / 2 x (h1 - h0)`` and
  ``weight moved = (s1 - s0) x (h0 + h1) / 2`` (the Shapley split of ``s1 h1 - s0 h0`` between
  its two factors), so a member whose band did not move has no band effect and one whose share
  did not move has no weight effect;
* joined (scored only at the later date): ``s1 h1``;
* left (scored only at the earlier date): ``-s0 h0``.

Each member's effects are credited to the direct child of the parent that it sits under (the
parent's own score counts as a child of its own), so the children's effects add up exactly to
``H1 - H0`` under either weighting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vitals.models.frames import InputError
from vitals.models.rollup import (
    DEFAULT_BAND_WEIGHTS,
    Weighting,
    member_positions,
    members,
    parent_positions,
)

EFFECTS = ("band_moved", "weight_moved", "joined", "left")


@dataclass(frozen=True)
class ParentChange:
    """How a parent's health moved, child by child.

    Attributes:
        health_then: the parent's health at the earlier date (NaN without members then).
        health_now: its health at the later date.
        children: per direct child ``child_id, band_moved, weight_moved, joined, left,
            health_points`` (the sum of the four), largest ``|health_points|`` first; the
            ``health_points`` add up to ``health_now - health_then``.
    """

    health_then: float
    health_now: float
    children: pd.DataFrame

    @property
    def change(self) -> float:
        """``health_now - health_then``."""
        return self.health_now - self.health_then


def parent_change(
    tree: pd.DataFrame,
    scores_then: pd.DataFrame,
    scores_now: pd.DataFrame,
    parent_id: str,
    *,
    weighting: Weighting = "count",
    band_weights: Mapping[str, float] | None = None,
) -> ParentChange:
    """Split a parent's health change into its direct children's effects (module docstring).

    Args:
        tree: ``account_id, parent_id`` of the accounts (at least the parent's subtree).
        scores_then: ``account_id, band`` (and ``contract_value`` to weight by it) of the
            accounts scored at the earlier date.
        scores_now: the same at the later date.
        parent_id: the parent.
        weighting: ``count`` or ``contract_value``.
        band_weights: health of each band, 0..1 (default good 1, average 0.5, poor 0).

    Raises:
        InputError: an unknown parent, or bad trees and scores (as for ``roll_up``).
    """
    weights = dict(band_weights or DEFAULT_BAND_WEIGHTS)
    ids, parent = parent_positions(tree)
    root = pd.Index(ids).get_indexer([parent_id])[0]
    if root < 0:
        raise InputError(f"account {parent_id!r} is not in the tree")
    then = _shares(ids, parent, root, scores_then, weighting, weights)
    now = _shares(ids, parent, root, scores_now, weighting, weights)
    both = then.merge(now, on="member", how="outer", suffixes=("_then", "_now"))
    s0, s1 = both["share_then"].fillna(0.0), both["share_now"].fillna(0.0)
    h0, h1 = both["h_then"], both["h_now"]
    present = h0.notna() & h1.notna()
    effects = pd.DataFrame(
        {
            "child_id": both["child_now"].fillna(both["child_then"]),
            "band_moved": np.where(present, (s0 + s1) / 2.0 * (h1 - h0), 0.0),
            "weight_moved": np.where(present, (s1 - s0) * (h0 + h1) / 2.0, 0.0),
            "joined": np.where(h0.isna(), s1 * h1.fillna(0.0), 0.0),
            "left": np.where(h1.isna(), -s0 * h0.fillna(0.0), 0.0),
        }
    )
    children = effects.groupby("child_id", sort=False)[list(EFFECTS)].sum().reset_index()
    children["health_points"] = children[list(EFFECTS)].sum(axis=1)
    children = children.iloc[np.argsort(-children["health_points"].abs().to_numpy(), kind="stable")]
    return ParentChange(_health(then), _health(now), children.reset_index(drop=True))


def _shares(
    ids: np.ndarray,
    parent: np.ndarray,
    root: int,
    scores: pd.DataFrame,
    weighting: Weighting,
    weights: Mapping[str, float],
) -> pd.DataFrame:
    """The parent's members at one date: ``member, child, share, h``."""
    pos, _band, w, h, _risk, _value = members(ids, scores, weighting, weights)
    is_parent = np.zeros(len(ids), dtype=bool)
    is_parent[parent[parent >= 0]] = True
    anc, member, child = member_positions(parent, pos, is_parent)
    mine = anc == root
    weight = w[member[mine]]
    total = weight.sum()
    return pd.DataFrame(
        {
            "member": ids[pos[member[mine]]],
            "child": ids[child[mine]],
            "share": weight / total if total > 0 else np.zeros(len(weight)),
            "h": h[member[mine]],
        }
    )


def _health(shares: pd.DataFrame) -> float:
    if shares.empty:
        return float("nan")
    return float((shares["share"] * shares["h"]).sum())
