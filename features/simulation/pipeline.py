"""Run every simulation stage in order and return the contract tables."""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
import pyarrow as pa

from vitals.features.simulation.calendar import Calendar, months_before
from vitals.features.simulation.events import simulate_events
from vitals.features.simulation.feedback import (
    simulate_sentiment,
    simulate_surveys,
    simulate_tickets,
)
from vitals.features.simulation.health import simulate_health
from vitals.features.simulation.lifecycle import simulate_lifecycle, subscriptions_table
from vitals.features.simulation.population import simulate_population

logger = logging.getLogger(__name__)

#: fixed end of the simulated data (exclusive), so a seed always gives the same data set
DEFAULT_END = date(2026, 10, 1)


def simulate(accounts: int, months: int, seed: int, end: date = DEFAULT_END) -> dict[str, pa.Table]:
    """Simulate a B2B SaaS customer base as the data contract's tables.

    Churn follows a hidden weekly health per account with several sides (seat adoption, the
    executive sponsor, support pain, feature breadth, activity, and activation for new accounts);
    each segment's renewals weigh different sides, and usage, tickets, survey scores, CSM ratings
    and seat changes move with the side they belong to before an account churns.

    Args:
        accounts: number of accounts (rows of ``accounts``), at least 1.
        months: length of the period in calendar months, at least 1.
        seed: seed of ``numpy.random.default_rng``; one seed always gives the same tables.
        end: first day after the data: nothing is stamped at or after it.

    Returns:
        The tables ``accounts``, ``subscriptions``, ``events``, ``tickets``, ``surveys`` and
        ``sentiment``, keyed by name.

    Raises:
        ValueError: if ``accounts`` or ``months`` is below 1.
    """
    if accounts < 1 or months < 1:
        raise ValueError(f"need accounts >= 1 and months >= 1, got {accounts} and {months}")
    calendar = Calendar(months_before(end, months), end)
    streams = np.random.default_rng(seed).spawn(7)
    pop = simulate_population(streams[0], accounts, calendar)
    health = simulate_health(streams[1], pop, calendar.weeks)
    lifecycle = simulate_lifecycle(streams[2], pop, health, calendar)
    tables = {
        "accounts": pop.to_table(calendar),
        "subscriptions": subscriptions_table(lifecycle, pop, calendar),
        "events": simulate_events(streams[3], pop, health, lifecycle, calendar),
        "tickets": simulate_tickets(streams[4], pop, health, lifecycle, calendar),
        "surveys": simulate_surveys(streams[5], pop, health, lifecycle, calendar),
        "sentiment": simulate_sentiment(streams[6], pop, health, lifecycle, calendar),
    }
    logger.info(
        "simulated %s from %s to %s: %s",
        f"{accounts} accounts",
        calendar.start,
        end,
        ", ".join(f"{name} {table.num_rows}" for name, table in tables.items()),
    )
    return tables
