"""Property tests of ingestion over the data contract: a batch drawn from the contract (and then
damaged at random) is split exactly into kept and refused rows, and what is kept never makes the
data fail ``vitals validate``: data that passes it must work in every later command.

The base and the batch are both contract-valid data directories drawn by ``contract_strategies``
(their account ids overlap, so batches add to, and clash with, the base's accounts); a few of the
batch's values are then replaced by text or nulls.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from contract_strategies import Case, cases
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from vitals.config.settings import get_settings
from vitals.features.ingested_rows import append_batches
from vitals.features.loader import Dataset, load_dataset
from vitals.features.validate import validate_dataset
from vitals.serving.ingest.ingestor import Ingestor

SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
DAMAGE = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(["", "-1", "1e400", "9999-12-31"])
)


PARTIAL = ("tickets", "surveys")


def table_rows(dataset: Dataset, table: str) -> list[str]:
    """A loaded table's rows, in a canonical order."""
    return sorted(map(repr, dataset.con.execute(f"SELECT * FROM {table}").fetchall()))


def rows_of(case: Case) -> dict[str, list[dict[str, Any]]]:
    """The case's tables as JSON rows (dates and times as ISO 8601 text)."""
    plain = lambda v: v.isoformat() if isinstance(v, date | datetime) else v  # noqa: E731
    return {
        name: [{k: plain(v) for k, v in row.items()} for row in table.to_pylist()]
        for name, table in case.tables().items()
    }


@contextmanager
def ingesting_into(base: Case) -> Iterator[Path]:
    """The case written as a data directory in a temporary folder, with its ingested store
    beside it (the settings point there until the block ends)."""
    with tempfile.TemporaryDirectory() as folder:
        root = base.write(Path(folder) / "data")
        os.environ["VITALS_INGEST__STORE_DIR"] = str(Path(folder) / "ingested")
        get_settings.cache_clear()
        try:
            yield root
        finally:
            del os.environ["VITALS_INGEST__STORE_DIR"]
            get_settings.cache_clear()


@settings(max_examples=40, **SETTINGS)
@given(base=cases(max_accounts=4), batch=cases(max_accounts=4), data=st.data())
def test_ingested_rows_are_kept_or_refused_and_keep_the_data_valid(
    base: Case, batch: Case, data: st.DataObject
) -> None:
    rows = rows_of(batch)
    for _ in range(data.draw(st.integers(0, 4), label="damaged values")):
        table = data.draw(st.sampled_from(sorted(t for t in rows if rows[t])), label="table")
        index = data.draw(st.integers(0, len(rows[table]) - 1), label="row")
        column = data.draw(st.sampled_from(sorted(rows[table][index])), label="column")
        rows[table][index][column] = data.draw(DAMAGE, label="value")
    note(f"batch = {json.dumps(rows, default=str)[:4000]}")
    with ingesting_into(base) as root:
        ingestor = Ingestor(root, get_settings().ingest)
        result = ingestor.ingest(rows, key="k")
        ingestor.close()
        for table, items in rows.items():
            refused = {r["index"] for r in result.rejected if r["table"] == table}
            assert result.accepted.get(table, 0) + len(refused) == len(items), table
        report = validate_dataset(root)
        assert report.ok, json.dumps(report.to_dict(), default=str)[:3000]
        dataset = load_dataset(root)
        assert dataset.ingested_through == 1
        assert append_batches(dataset, ingestor.store, []).rows == 0
        some = load_dataset(root, tables=PARTIAL)  # e.g. the console's recent activity
        assert set(some.files) == {t for t in PARTIAL if dataset.has(t)}
        for table in some.files:
            assert table_rows(some, table) == table_rows(dataset, table), table
        some.con.close()
        dataset.con.close()
