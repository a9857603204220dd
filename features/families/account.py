"""Subscription, lifecycle and attribute features, from accounts and subscriptions."""

from __future__ import annotations

from vitals.features.definitions import (
    ONBOARDING_DAYS,
    Feature,
    relative_change,
    slug,
    spec,
)


def financial_and_lifecycle() -> list[Feature]:
    """Subscription and lifecycle features (always available)."""
    return [
        Feature(
            spec(
                "mrr",
                "financial",
                "MRR",
                "Monthly recurring revenue of running lines",
                "currency",
                window_days=90,
                higher_is_better=True,
                previous="mrr_90d_ago",
            ),
            "s.mrr",
        ),
        Feature(
            spec(
                "mrr_90d_ago",
                "financial",
                "MRR 90 days earlier",
                "MRR of the lines running 90 days before the as-of date",
                "currency",
                higher_is_better=True,
            ),
            "COALESCE(s90.mrr, 0.0)",
        ),
        Feature(
            spec(
                "mrr_change_90d",
                "financial",
                "MRR change",
                "Relative change of MRR over 90 days, (now - before) / (now + before)",
                "relative change",
                window_days=90,
                higher_is_better=True,
            ),
            relative_change("s.mrr", "COALESCE(s90.mrr, 0.0)"),
        ),
        Feature(
            spec(
                "contract_value",
                "financial",
                "Contract value",
                "12 x MRR",
                "currency",
                higher_is_better=True,
            ),
            "12 * s.mrr",
        ),
        Feature(
            spec(
                "seats",
                "financial",
                "Licensed seats",
                "Seats of running lines",
                "seats",
                window_days=90,
                higher_is_better=True,
                previous="seats_90d_ago",
            ),
            "s.seats",
        ),
        Feature(
            spec(
                "seats_90d_ago",
                "financial",
                "Seats 90 days earlier",
                "Seats of the lines running 90 days before",
                "seats",
                higher_is_better=True,
            ),
            "s90.seats",
        ),
        Feature(
            spec(
                "seats_change_90d",
                "financial",
                "Seat change",
                "Relative change of seats over 90 days",
                "relative change",
                window_days=90,
                higher_is_better=True,
            ),
            relative_change("COALESCE(s.seats, 0)", "COALESCE(s90.seats, 0)"),
        ),
        Feature(
            spec(
                "discount",
                "financial",
                "Discount",
                "MRR-weighted discount of running lines",
                "share",
            ),
            "s.discount",
        ),
        Feature(
            spec(
                "billing_period_months",
                "financial",
                "Billing period",
                "Longest billing period of running lines",
                "months",
            ),
            "s.billing_period_months",
        ),
        Feature(
            spec(
                "days_to_renewal",
                "financial",
                "Days to renewal",
                "Days until the next renewal date of a running line (from start date and "
                "billing period)",
                "days",
            ),
            "s.days_to_renewal",
        ),
        Feature(
            spec(
                "subscription_lines",
                "financial",
                "Subscription lines",
                "Number of running subscription lines",
                "lines",
            ),
            "s.lines",
        ),
        Feature(
            spec(
                "tenure_days",
                "lifecycle",
                "Tenure",
                "Days since the account was created",
                "days",
                higher_is_better=True,
            ),
            "a.as_of_day - acc.created_day",
        ),
        Feature(
            spec(
                "onboarding",
                "lifecycle",
                "Onboarding",
                f"1 during the first {ONBOARDING_DAYS} days as a customer",
                "flag",
            ),
            f"CASE WHEN a.as_of_day - acc.created_day < {ONBOARDING_DAYS} THEN 1 ELSE 0 END",
        ),
        Feature(
            spec(
                "has_parent",
                "lifecycle",
                "Part of a hierarchy",
                "1 when the account has a parent account",
                "flag",
            ),
            "CASE WHEN acc.parent_id IS NULL THEN 0 ELSE 1 END",
        ),
    ]


def attribute_features(categorical: list[str], numeric: list[str]) -> list[Feature]:
    """Account attributes: the segment and every extra column of the accounts table."""
    feats = [
        Feature(
            spec(
                "segment", "attribute", "Segment", "Account segment", "category", kind="categorical"
            ),
            "acc.segment",
        )
    ]
    for col in categorical:
        feats.append(
            Feature(
                spec(
                    f"attr_{slug(col)}",
                    "attribute",
                    col.replace("_", " ").title(),
                    f"Account attribute '{col}'",
                    "category",
                    kind="categorical",
                ),
                f'CAST(acc."{col}" AS VARCHAR)',
            )
        )
    for col in numeric:
        feats.append(
            Feature(
                spec(
                    f"attr_{slug(col)}",
                    "attribute",
                    col.replace("_", " ").title(),
                    f"Account attribute '{col}'",
                    "value",
                ),
                f'CAST(acc."{col}" AS DOUBLE)',
            )
        )
    return feats
