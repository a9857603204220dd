"""Moving an account's calendar forward while its behaviour is held.

A survival curve chains the step hazards of the same account on later dates: every feature keeps
today's value except the ones the calendar moves by itself. Those are, when the model reads them:

* ``tenure_days``: grows by the days advanced;
* ``onboarding``: 1 while the tenure is below :data:`ONBOARDING_DAYS`;
* ``days_to_renewal``: counts down and, past the renewal, starts again from the billing period
  (``billing_period_months``, one month when unknown), as a renewing line does.

Health is computed from a booster that never saw these features (see
:mod:`vitals.models.survival`), which is what keeps the calendar out of health.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vitals.features.definitions import ONBOARDING_DAYS

TENURE = "tenure_days"
ONBOARDING = "onboarding"
RENEWAL = "days_to_renewal"
BILLING = "billing_period_months"
CALENDAR_FEATURES: tuple[str, ...] = (TENURE, ONBOARDING, RENEWAL)
DAYS_PER_MONTH = 365.25 / 12.0


@dataclass(frozen=True)
class CalendarColumns:
    """Positions of the calendar features (and the billing period) in a booster's columns."""

    tenure: int | None
    onboarding: int | None
    renewal: int | None
    billing: int | None

    @classmethod
    def of(cls, names: Sequence[str]) -> CalendarColumns:
        """The positions in ``names`` (``None`` for a feature the model does not read)."""
        where = {name: i for i, name in enumerate(names)}
        return cls(where.get(TENURE), where.get(ONBOARDING), where.get(RENEWAL), where.get(BILLING))

    def advance(self, X: np.ndarray, days: float) -> np.ndarray:
        """A copy of ``X`` (booster matrix) with its calendar features ``days`` later."""
        if days == 0:
            return X
        moved = X.copy()
        if self.tenure is not None:
            moved[:, self.tenure] = X[:, self.tenure] + days
        if self.onboarding is not None and self.tenure is not None:
            tenure = moved[:, self.tenure]
            moved[:, self.onboarding] = np.where(
                np.isnan(tenure), X[:, self.onboarding], (tenure < ONBOARDING_DAYS).astype(float)
            )
        if self.renewal is not None:
            moved[:, self.renewal] = renewal_after(
                X[:, self.renewal], None if self.billing is None else X[:, self.billing], days
            )
        return moved


def renewal_after(
    days_to_renewal: np.ndarray, billing_months: np.ndarray | None, days: float
) -> np.ndarray:
    """Days to the next renewal ``days`` later: counted down, restarting from the billing period.

    Values lie in ``(0, period]`` as the feature's do (a renewal today counts as a full period).
    """
    months = np.ones_like(days_to_renewal) if billing_months is None else billing_months
    period = np.where(np.isnan(months) | (months <= 0), 1.0, months) * DAYS_PER_MONTH
    return np.mod(days_to_renewal - days - 1.0, period) + 1.0
