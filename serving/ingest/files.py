"""Reading rows to ingest from files: what ``vitals ingest FILE|DIR`` sends.

A file is either a JSON object shaped like the body of ``POST /v1/events`` (table -> list of
rows), or one table's rows as ``<table>.csv`` / ``<table>.parquet`` (named like a data
directory's files). A directory ingests every such file in it, as one batch.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from vitals.features.contract import TABLES

SUFFIXES = (".json", ".csv", ".parquet")


class IngestFileError(ValueError):
    """A file that cannot be read as rows to ingest; the message names it and why."""


def read_rows(path: str | Path) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """The rows per table in ``path`` (a file or a directory), and a digest of their files.

    The digest (SHA-256 over the files' names and bytes) makes a stable idempotency key: the same
    files ingested twice count once.

    Raises:
        IngestFileError: no such file, an unknown table name, or an unreadable file.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        if not files:
            raise IngestFileError(f"{path}: no .json, .csv or .parquet file to ingest")
    elif path.is_file():
        files = [path]
    else:
        raise IngestFileError(f"{path}: no such file or directory")
    rows: dict[str, list[dict[str, Any]]] = {}
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
        for table, items in _read(file).items():
            rows.setdefault(table, []).extend(items)
    return rows, digest.hexdigest()


def _read(file: Path) -> dict[str, list[dict[str, Any]]]:
    if file.suffix == ".json":
        try:
            body = json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IngestFileError(f"{file.name}: not JSON: {exc}") from None
        if not isinstance(body, dict) or not all(isinstance(v, list) for v in body.values()):
            raise IngestFileError(f"{file.name}: expected an object of table -> list of rows")
        return body
    table = file.stem
    if table not in TABLES:
        raise IngestFileError(
            f"{file.name}: name the file after its table ({', '.join(TABLES)}), "
            "or send a JSON object of table -> rows"
        )
    if file.suffix == ".csv":
        with file.open(encoding="utf-8-sig", newline="") as handle:
            items = [
                {k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(handle)
            ]
        return {table: items}
    try:
        items = pq.read_table(file).to_pylist()
    except OSError as exc:
        raise IngestFileError(f"{file.name}: cannot be read as Parquet: {exc}") from None
    return {table: [{k: _plain(v) for k, v in item.items()} for item in items]}


def _plain(value: Any) -> Any:
    """A Parquet value as JSON would carry it (dates and times as ISO 8601 text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
