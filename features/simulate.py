"""Realistic sample data for Vitals (``vitals simulate``): simulate the contract tables, write them.

Example:
    >>> tables = simulate(accounts=300, months=12, seed=7)
    >>> paths = write_dataset(tables, Path("data"), fmt="parquet")  # doctest: +SKIP

The work is done in :mod:`vitals.features.simulation`, one module per part of the customer base.
"""

from __future__ import annotations

from vitals.features.simulation.pipeline import DEFAULT_END, simulate
from vitals.features.simulation.writer import write_dataset

__all__ = ["DEFAULT_END", "simulate", "write_dataset"]
