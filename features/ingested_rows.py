"""Adding ingested rows to a loaded data directory, so every command sees both as one source.

The rows come from the committed batches of the directory's store
(:mod:`vitals.features.ingested`). Most rows add to their table. Two kinds of row stand for a
change of something the data already holds, and replace it:

* a ticket whose ``ticket_id`` is known (the ticket closed, or got its CSAT);
* a subscription line with a known ``account_id``, ``product`` and ``start_date`` (the line
  ended: its ``end_date`` is set; or its seats or MRR changed).

Batches are applied in commit order, so the latest version of a ticket or line wins.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from vitals.config.settings import get_settings
from vitals.features.casting import literal, quote
from vitals.features.contract import TABLES
from vitals.features.ingested import Batch, IngestedStore
from vitals.features.table_load import BAD, ROW

if TYPE_CHECKING:
    from vitals.features.loader import Dataset

#: Tables whose ingested rows replace the rows with the same key.
REPLACED_BY: dict[str, tuple[str, ...]] = {
    "tickets": ("ticket_id",),
    "subscriptions": ("account_id", "product", "start_date"),
}


class Appended(NamedTuple):
    """What :func:`append_batches` did.

    Attributes:
        rows: rows added (replacing rows count as added).
        replaced_accounts: the accounts of the rows that were replaced. A replacing row may name
            another account (a ticket filed on the wrong account and corrected), which then
            lost a row without being in the batch.
    """

    rows: int
    replaced_accounts: frozenset[str]


def ingested_store(root: Path) -> IngestedStore | None:
    """The store of rows ingested for the data directory ``root`` (settings' ``ingest.store_dir``),
    or ``None`` when nothing was ever ingested for it."""
    folder = Path(get_settings().ingest.store_dir)
    marker = folder / "BASE"
    if not marker.is_file() or Path(marker.read_text().strip()) != root.resolve():
        return None
    return IngestedStore(folder, root)


def append_batches(
    dataset: Dataset,
    store: IngestedStore,
    batches: Sequence[Batch],
    lenient: bool = False,
    tables: Collection[str] | None = None,
) -> Appended:
    """Add the rows of committed ``batches`` (in order) to the dataset's tables.

    A table the directory lacks is created from its segments. With ``lenient`` (a validation
    load), the rows get :data:`ROW` numbers after the file's and an empty :data:`BAD` list.
    ``dataset.ingested_through`` becomes the last batch's sequence. ``tables`` limits the tables
    appended to (all when ``None``).

    All batches are added, or none (a failure rolls the tables back and re-raises).

    Returns:
        The rows added and the accounts of the rows replaced.
    """
    chosen = [t for t in TABLES if tables is None or t in tables]
    files, added_columns = dict(dataset.files), dict(dataset.added_columns)
    # all or nothing: a failure half-way (an unreadable segment) must not leave some batches'
    # rows in the tables, or taking in the same batches again would add them twice
    dataset.con.execute("BEGIN TRANSACTION")
    try:
        appended = _append(dataset, store, batches, lenient, chosen)
        dataset.con.execute("COMMIT")
    except BaseException:
        dataset.con.execute("ROLLBACK")
        dataset.files, dataset.added_columns = files, added_columns
        raise
    if batches:
        dataset.ingested_through = batches[-1].sequence
    return appended


def _append(
    dataset: Dataset,
    store: IngestedStore,
    batches: Sequence[Batch],
    lenient: bool,
    tables: list[str],
) -> Appended:
    added, replaced = 0, set()
    for name in tables:
        files = [store.root / b.segments[name] for b in batches if name in b.segments]
        if not files:
            continue
        if not dataset.has(name):
            _create(dataset, name, files[0], lenient)
        if name in REPLACED_BY:
            for file in files:  # one at a time: a later batch replaces an earlier one's row
                replaced |= _delete_replaced(dataset, name, file)
                added += _insert(dataset, name, [file], lenient)
        else:
            added += _insert(dataset, name, files, lenient)
    return Appended(added, frozenset(replaced))


def scan_segments(files: list[Path]) -> str:
    """SQL reading segment files as one table (their columns matched by name)."""
    return f"read_parquet([{', '.join(literal(str(f)) for f in files)}], union_by_name = true)"


def _create(dataset: Dataset, name: str, first: Path, lenient: bool) -> None:
    extra = f", CAST(NULL AS BIGINT) AS {ROW}, CAST([] AS VARCHAR[]) AS {BAD}" if lenient else ""
    dataset.con.execute(
        f"CREATE TABLE {quote(name)} AS SELECT *{extra} FROM {scan_segments([first])} LIMIT 0"
    )
    dataset.files[name] = first
    dataset.added_columns[name] = []


def _delete_replaced(dataset: Dataset, name: str, file: Path) -> set[str]:
    """Delete the rows that the segment's rows replace; the accounts they belonged to."""
    same = " AND ".join(
        f"n.{quote(k)} IS NOT DISTINCT FROM t.{quote(k)}" for k in REPLACED_BY[name]
    )
    deleted = dataset.con.execute(
        f"DELETE FROM {quote(name)} t "
        f"WHERE EXISTS (SELECT 1 FROM {scan_segments([file])} n WHERE {same}) "
        "RETURNING t.account_id"
    ).fetchall()
    return {account for (account,) in deleted}


def _insert(dataset: Dataset, name: str, files: list[Path], lenient: bool) -> int:
    select = "*"
    if lenient:
        first = f"(SELECT coalesce(max({ROW}), 0) FROM {quote(name)})"
        select = f"*, {first} + row_number() OVER () AS {ROW}, CAST([] AS VARCHAR[]) AS {BAD}"
    return dataset.con.execute(
        f"INSERT INTO {quote(name)} BY NAME SELECT {select} FROM {scan_segments(files)}"
    ).fetchall()[0][0]
