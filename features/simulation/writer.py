"""Write simulated tables as a data directory, one file per table, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from vitals.features.atomic import atomic_target

Format = Literal["parquet", "csv"]


def _iso_timestamps(table: pa.Table) -> pa.Table:
    """Timestamps as ISO-8601 strings (``2026-01-31T09:15:00``) for CSV."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            text = pc.strftime(table.column(i).cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
            table = table.set_column(i, field.name, text)
    return table


def _write_one(table: pa.Table, path: Path, fmt: Format) -> None:
    with atomic_target(path) as temp:
        if fmt == "parquet":
            pq.write_table(table, temp, compression="zstd", row_group_size=1_000_000)
        else:
            pacsv.write_csv(_iso_timestamps(table), temp)


def write_dataset(
    tables: dict[str, pa.Table], out_dir: Path, fmt: Format = "parquet"
) -> dict[str, Path]:
    """Write each table to ``out_dir/<name>.<fmt>``, creating the folder.

    Each file is written under a temporary name and renamed when complete, so a failure never
    leaves a partial file behind.

    Args:
        tables: the tables by name (e.g. the output of ``simulate``).
        out_dir: the data directory.
        fmt: ``parquet`` or ``csv`` (UTF-8, header row, ISO-8601 timestamps).

    Returns:
        The path written for each table.

    Raises:
        ValueError: for an unknown format.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown format {fmt!r}: use 'parquet' or 'csv'")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in tables.items():
        path = out_dir / f"{name}.{fmt}"
        _write_one(table, path, fmt)
        paths[name] = path
    return paths
