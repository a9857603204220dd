"""Helpers of the training tests: changed settings, rebuilt snapshot tables, a free port."""

from __future__ import annotations

import socket
from dataclasses import replace

import pandas as pd
import pyarrow as pa

from vitals.config.settings import Settings
from vitals.features.build import Snapshots


def with_training(settings: Settings, **changes: object) -> Settings:
    """The settings with some training settings changed."""
    return settings.model_copy(update={"training": settings.training.model_copy(update=changes)})


def replaced_table(snapshots: Snapshots, frame: pd.DataFrame) -> Snapshots:
    """The snapshots with their table rebuilt from a pandas frame (same schema)."""
    table = pa.Table.from_pandas(frame, schema=snapshots.table.schema, preserve_index=False)
    return replace(snapshots, table=table)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
