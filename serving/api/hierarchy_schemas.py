"""Response models of ``GET /v1/accounts/{id}/hierarchy``: the tree with every level's roll-up."""

from __future__ import annotations

from datetime import date

from pydantic import AliasChoices, BaseModel, Field

from vitals.serving.api.schemas import Weighting


class Driver(BaseModel):
    """A direct child that costs its parent health."""

    rank: int
    child_id: str
    child_health: float | None
    health_points_lost: float


class ParentReason(BaseModel):
    """A measure's reason at a parent (its members' reasons, weighted)."""

    rank: int
    measure: str = Field(validation_alias=AliasChoices("measure", "feature"))
    label: str
    health_points: float


class RollUpView(BaseModel):
    """A parent's roll-up over every scored account below it (and itself when scored)."""

    n_accounts: int
    weight: float
    share_good: float | None
    share_average: float | None
    share_poor: float | None
    health: float | None
    contract_value: float | None
    revenue_at_risk: float | None
    renewal_revenue_at_risk: float | None = Field(
        default=None, description="sum of each account's risk by its next renewal x its value"
    )
    pulling_down: list[Driver]
    reasons: list[ParentReason]


class HierarchyNode(BaseModel):
    """An account in the tree: its own score (when scored) and its roll-up (when a parent)."""

    account_id: str
    parent_id: str | None
    depth: int = Field(ge=0, description="levels below the requested account")
    scored: bool
    health_score: float | None = None
    band: str | None = None
    churn_probability: float | None = None
    contract_value: float | None = None
    revenue_at_risk: float | None = None
    rollup: RollUpView | None = None


class HierarchyResponse(BaseModel):
    """The tree under an account, parents before their children."""

    account_id: str
    as_of: date
    weighting: Weighting
    nodes: list[HierarchyNode]
