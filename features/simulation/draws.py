"""Small vectorised helpers shared by the simulation modules."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: hours to add to local time for UTC, by region code (na, emea, apac, latam)
REGION_UTC_OFFSET_H = np.array([-5.0, 1.0, 8.0, -3.0])


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def utc_seconds(
    rng: np.random.Generator, region: np.ndarray, mean_hour: float, sd_hour: float
) -> np.ndarray:
    """Second of the UTC day of activity around a local hour, wrapped into the same day.

    Args:
        rng: the random generator.
        region: region code of each row.
        mean_hour: mean local hour of the activity.
        sd_hour: its spread in hours.

    Returns:
        ``int64`` seconds in ``[0, 86400)``.
    """
    local = rng.normal(mean_hour, sd_hour, len(region))
    return ((local - REGION_UTC_OFFSET_H[region]) % 24 * 3600).astype(np.int64)


def labels(names: tuple[str, ...], codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Strings for integer codes (null where ``null`` is true), built once from the dictionary.

    Args:
        names: the strings, indexed by code.
        codes: integer codes.
        null: optional mask of rows to leave null.

    Returns:
        A ``string`` array.
    """
    indices = pa.array(np.asarray(codes, dtype=np.int32), mask=null)
    return pa.array(names, pa.string()).take(indices)
