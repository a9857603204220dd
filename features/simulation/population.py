"""The accounts: segments, the enterprise hierarchy, arrival dates, attributes, first contracts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from vitals.features.simulation.calendar import Calendar
from vitals.features.simulation.draws import labels

SEGMENTS = ("enterprise", "mid_market", "smb")
ENT, MID, SMB = 0, 1, 2
PLANS = ("starter", "growth", "business", "enterprise")
PLAN_PRICE = np.array([20.0, 40.0, 65.0, 95.0])  # list price per seat and month
INDUSTRIES = (
    "software", "financial_services", "healthcare", "retail", "manufacturing",
    "education", "media", "logistics", "public_sector",
)  # fmt: skip
REGIONS = ("na", "emea", "apac", "latam")  # order of draws.REGION_UTC_OFFSET_H
CHANNELS = ("self_serve", "sales", "partner")
N_CSMS = 24  # customer-success managers sharing the accounts

_SEGMENT_SHARE = np.array([0.12, 0.33, 0.55])  # of accounts outside hierarchies
_PLAN_P = np.array([[0, 0, 0.35, 0.65], [0.05, 0.45, 0.45, 0.05], [0.6, 0.35, 0.05, 0]])
_INDUSTRY_P = np.array([0.22, 0.14, 0.11, 0.12, 0.1, 0.08, 0.08, 0.08, 0.07])
_REGION_P = np.array([0.45, 0.32, 0.15, 0.08])
_CHANNEL_P = np.array([[0.02, 0.88, 0.1], [0.25, 0.6, 0.15], [0.75, 0.1, 0.15]])
_ANNUAL_P = np.array([0.95, 0.5, 0.12])
#: extra log-odds of churn by channel and industry (self-serve and education churn more)
CHANNEL_CHURN = np.array([0.3, 0.0, 0.1])
INDUSTRY_CHURN = np.array([0.0, -0.1, -0.1, 0.15, 0.0, 0.25, 0.15, 0.05, -0.25])
#: share of hierarchy roots among all accounts, and the cap on accounts inside hierarchies
_TREE_SHARE, _TREE_CAP = 0.02, 0.25
_NULL_SEGMENT_P = 0.02
_PREEXISTING_P = 0.45
_MAX_AGE_DAYS = 3 * 365

_NAME_A = (
    "Acme", "Apex", "Blue", "Bright", "Cedar", "Crest", "Delta", "Echo", "Summit", "Falcon",
    "Granite", "Harbor", "Iron", "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "North",
    "Orbit", "Pine", "Quartz", "River", "Silver", "Terra", "Union", "Vertex", "Willow", "Zenith",
)  # fmt: skip
_NAME_B = (
    "Analytics", "Bank", "Brands", "Capital", "Clinics", "Foods", "Freight", "Health", "Labs",
    "Logistics", "Media", "Motors", "Networks", "Partners", "Retail", "Robotics", "Systems",
    "Works",
)  # fmt: skip
_NAME_C = ("Inc", "Ltd", "GmbH", "Group", "Co", "LLC", "SA", "plc")
_UNIT_NAMES = (
    "Finance", "Operations", "Marketing", "Sales", "Engineering", "HR", "Legal",
    "Supply Chain", "EMEA", "APAC", "Americas", "Research",
)  # fmt: skip
_PRODUCT_NAMES = ("Payments", "Mobile", "Cloud", "Insurance", "Consumer", "Wholesale", "Data")


@dataclass(frozen=True)
class Population:
    """Every account as parallel arrays, ordered by creation (parents before their children).

    Attributes:
        account_id: the account ids (``A000001``, ...).
        name: display names.
        parent: index of the parent account, ``-1`` for none.
        root: index of the hierarchy's top account (itself for top-level accounts).
        depth: 0 for top-level accounts, 1 for business units, 2 for products.
        segment: true segment code (``ENT``, ``MID``, ``SMB``); drives behaviour.
        segment_known: ``False`` where the exported ``segment`` is null.
        has_subscription: ``False`` for parents that only roll up their children.
        created_day: day index of becoming a customer (negative: before the period).
        created_second: second of that day.
        annual: whether the first contract is billed annually.
        seats: seats of the first contract.
        price: list price per seat and month.
        discount: discount of the first contract (NaN = unknown).
        plan, industry, region, channel: attribute codes into the module's tuples.
        csm: code of the customer-success manager.
        churn_offset: extra log-odds of churn from the attributes.
    """

    account_id: np.ndarray
    name: np.ndarray
    parent: np.ndarray
    root: np.ndarray
    depth: np.ndarray
    segment: np.ndarray
    segment_known: np.ndarray
    has_subscription: np.ndarray
    created_day: np.ndarray
    created_second: np.ndarray
    annual: np.ndarray
    seats: np.ndarray
    price: np.ndarray
    discount: np.ndarray
    plan: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    channel: np.ndarray
    csm: np.ndarray
    churn_offset: np.ndarray

    @property
    def size(self) -> int:
        """Number of accounts."""
        return len(self.account_id)

    def to_table(self, calendar: Calendar) -> pa.Table:
        """The ``accounts`` contract table plus the attribute columns."""
        has_parent = self.parent >= 0
        parent_id = np.where(has_parent, self.account_id[np.maximum(self.parent, 0)], None)
        created_us = calendar.timestamps_us(self.created_day, self.created_second)
        return pa.table(
            {
                "account_id": pa.array(self.account_id, pa.string()),
                "parent_id": pa.array(parent_id, pa.string()),
                "name": pa.array(self.name, pa.string()),
                "segment": labels(SEGMENTS, self.segment, ~self.segment_known),
                "created_at": pa.array(created_us, pa.timestamp("us")),
                "plan": labels(PLANS, self.plan),
                "industry": labels(INDUSTRIES, self.industry),
                "region": labels(REGIONS, self.region),
                "channel": labels(CHANNELS, self.channel),
            }
        )


def _hierarchy(rng: np.random.Generator, accounts: int) -> tuple[np.ndarray, np.ndarray]:
    """Parent index and depth of the hierarchy accounts, laid out roots, units, then products."""
    trees = round(accounts * _TREE_SHARE)
    units = rng.integers(2, 5, trees)
    unit_tree = np.repeat(np.arange(trees), units)
    products = np.where(rng.random(len(unit_tree)) < 0.35, rng.integers(2, 4, len(unit_tree)), 0)
    size = 1 + units + np.bincount(unit_tree, weights=products, minlength=trees).astype(int)
    keep_tree = np.cumsum(size) <= accounts * _TREE_CAP
    trees = int(keep_tree.sum())
    keep_unit = keep_tree[unit_tree]
    unit_tree, products = unit_tree[keep_unit], products[keep_unit]
    n_units = len(unit_tree)
    product_unit = np.repeat(np.arange(n_units), products)
    parent = np.concatenate([np.full(trees, -1), unit_tree, trees + product_unit])
    depth = np.concatenate(
        [np.zeros(trees, int), np.ones(n_units, int), np.full(len(product_unit), 2)]
    )
    return parent, depth


def _created_days(
    rng: np.random.Generator, parent: np.ndarray, depth: np.ndarray, days: int
) -> np.ndarray:
    """Arrival day of every account; children arrive with or after their parent."""
    n = len(parent)
    is_parent = np.bincount(parent[parent >= 0], minlength=n) > 0
    pre = rng.random(n) < np.where(is_parent, 0.7, _PREEXISTING_P)
    created = np.where(pre, -rng.integers(1, _MAX_AGE_DAYS, n), rng.integers(0, days - 7, n))
    for level in (1, 2):  # children follow their parent, sometimes much later (expansion)
        at = np.flatnonzero(depth == level)
        later = np.where(rng.random(len(at)) < 0.5, 0, rng.integers(0, 400 // level, len(at)))
        created[at] = np.minimum(created[parent[at]] + later, days - 8)
    return created


def _names(rng: np.random.Generator, parent: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Company names; business units and products are named after their parent."""
    n = len(parent)
    pick = [rng.integers(0, len(words), n) for words in (_NAME_A, _NAME_B, _NAME_C)]
    names = np.array(
        [f"{_NAME_A[a]} {_NAME_B[b]} {_NAME_C[c]}" for a, b, c in zip(*pick, strict=True)],
        dtype=object,
    )
    units = rng.integers(0, len(_UNIT_NAMES), n)
    products = rng.integers(0, len(_PRODUCT_NAMES), n)
    for level, words, code in ((1, _UNIT_NAMES, units), (2, _PRODUCT_NAMES, products)):
        at = np.flatnonzero(depth == level)
        names[at] = [f"{names[p]} / {words[c]}" for p, c in zip(parent[at], code[at], strict=True)]
    return names


def _choice(rng: np.random.Generator, probs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per row, from the probability row ``probs[rows]``."""
    cumulative = np.cumsum(probs, axis=1)[rows]
    return (rng.random((len(rows), 1)) > cumulative).sum(axis=1).clip(0, probs.shape[1] - 1)


def simulate_population(rng: np.random.Generator, accounts: int, calendar: Calendar) -> Population:
    """Draw the accounts, their hierarchy and their first contract.

    Args:
        rng: the random generator of this stage.
        accounts: number of accounts (rows of the ``accounts`` table).
        calendar: the simulated period.

    Returns:
        The population, ordered by creation.
    """
    parent, depth = _hierarchy(rng, accounts)
    n_tree = len(parent)
    parent = np.concatenate([parent, np.full(accounts - n_tree, -1)])
    depth = np.concatenate([depth, np.zeros(accounts - n_tree, int)])
    is_parent = np.bincount(parent[parent >= 0], minlength=accounts) > 0
    segment = np.where(np.arange(accounts) < n_tree, ENT, rng.choice(3, accounts, p=_SEGMENT_SHARE))
    created = _created_days(rng, parent, depth, calendar.days)
    order = np.lexsort((depth, created))
    rank = np.empty(accounts, dtype=np.int64)
    rank[order] = np.arange(accounts)
    parent = np.where(parent >= 0, rank[np.maximum(parent, 0)], -1)[order]
    depth, segment, created, is_parent = (
        depth[order],
        segment[order],
        created[order],
        is_parent[order],
    )

    root = np.arange(accounts)
    for _ in range(2):
        root = np.where(parent[root] >= 0, parent[root], root)
    has_sub = ~is_parent | (rng.random(accounts) < 0.3)
    seats_log_median = np.select(
        [is_parent, depth > 0, segment == ENT, segment == MID], [2.3, 4.2, 5.2, 3.55], 1.6
    )
    seats = np.exp(rng.normal(seats_log_median, np.where(segment == SMB, 0.6, 0.75)))
    seats = np.round(np.clip(seats, 1, 5000))
    annual = rng.random(accounts) < _ANNUAL_P[segment]
    plan = _choice(rng, _PLAN_P, segment)
    channel = _choice(rng, _CHANNEL_P, segment)
    industry = rng.choice(len(INDUSTRIES), accounts, p=_INDUSTRY_P)
    industry = np.where(parent >= 0, industry[root], industry)  # a group shares its industry
    region = rng.choice(len(REGIONS), accounts, p=_REGION_P)
    discount = np.where(
        annual,
        np.round(rng.uniform(0.05, 0.3, accounts), 2) * (rng.random(accounts) < 0.7),
        np.round(rng.uniform(0.05, 0.2, accounts), 2) * (rng.random(accounts) < 0.15),
    )
    discount = np.where(rng.random(accounts) < 0.08, np.nan, discount)
    created_second = rng.integers(8 * 3600, 20 * 3600, accounts)
    for level in (1, 2):  # a child never appears before its parent
        at = np.flatnonzero((depth == level) & (created == created[np.maximum(parent, 0)]))
        created_second[at] = np.maximum(created_second[at], created_second[parent[at]])
    return Population(
        account_id=np.array([f"A{i:06d}" for i in range(1, accounts + 1)], dtype=object),
        name=_names(rng, parent, depth),
        parent=parent,
        root=root,
        depth=depth,
        segment=segment,
        segment_known=(parent >= 0) | (rng.random(accounts) >= _NULL_SEGMENT_P),
        has_subscription=has_sub,
        created_day=created,
        created_second=created_second,
        annual=annual,
        seats=seats,
        price=PLAN_PRICE[plan],
        discount=discount,
        plan=plan,
        industry=industry,
        region=region,
        channel=channel,
        csm=rng.integers(0, N_CSMS, accounts),
        churn_offset=CHANNEL_CHURN[channel] + INDUSTRY_CHURN[industry],
    )
