"""A tiny, valid, hand-written data directory that tests copy and break on purpose."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from vitals.features.contract import TABLES

# Every rule of the contract holds here. a1 is a parent of a2 and a3; b1 stands alone.
VALID_CSV: dict[str, str] = {
    "accounts": """\
account_id,parent_id,name,segment,created_at,plan,employees
a1,,Acme Group,enterprise,2023-01-01T00:00:00,gold,5000
a2,a1,Acme East,enterprise,2023-02-01T09:30:00,gold,1200
a3,a1,Acme West,,2023-03-15T12:00:00,silver,800
b1,,Beta Ltd,smb,2023-06-01T00:00:00,bronze,12
""",
    "subscriptions": """\
account_id,start_date,end_date,mrr,seats,product,discount,billing_period_months
a2,2023-02-01,,1200.0,40,core,0.1,12
a3,2023-03-15,2024-03-14,800,25,core,,12
b1,2023-06-01,,99.5,,core,0,1
""",
    "events": """\
account_id,timestamp,event_type,user_id,feature,value
a2,2024-01-02T10:00:00,login,u1,,
a2,2024-01-02T10:05:00,report_run,u1,reports,3
a3,2024-01-03T08:00:00,login,u7,,
b1,2024-01-04T16:20:00,export,u7,exports,1.5
b1,2024-01-05T09:00:00,login,,,
""",
    "tickets": """\
account_id,ticket_id,opened_at,closed_at,priority,csat
a2,t1,2024-01-02T11:00:00,2024-01-03T09:00:00,high,4
b1,t2,2024-01-04T17:00:00,,normal,
""",
    "surveys": """\
account_id,responded_at,kind,score,user_id,comment
a2,2024-01-05T12:00:00,nps,9,u1,great
b1,2024-01-05T13:00:00,csat,4,,"fine, thanks"
""",
    "sentiment": """\
account_id,recorded_at,rating,author,note
a2,2024-01-06T08:00:00,green,csm1,
a3,2024-01-06T08:00:00,yellow,csm1,quiet month
""",
}

_ARROW_TYPES = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "float": pa.float64(),
    "int": pa.int64(),
}


class DataDir:
    """A writable copy of the valid data directory, with small helpers to break it."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        for table, text in VALID_CSV.items():
            (path / f"{table}.csv").write_text(text)

    def file(self, table: str) -> Path:
        """The CSV file of ``table``."""
        return self.path / f"{table}.csv"

    def append(self, table: str, *lines: str) -> None:
        """Add data lines to a table."""
        with self.file(table).open("a") as fh:
            fh.writelines(line + "\n" for line in lines)

    def replace(self, table: str, old: str, new: str) -> None:
        """Replace text in a table's CSV (``old`` must occur)."""
        text = self.file(table).read_text()
        assert old in text, f"{old!r} not in {table}.csv"
        self.file(table).write_text(text.replace(old, new))

    def remove(self, table: str) -> None:
        """Delete a table's file."""
        self.file(table).unlink()

    def to_parquet(self, target: Path) -> Path:
        """Write the directory as Parquet files with the contract's types (read with pyarrow)."""
        target.mkdir(parents=True)
        for file in sorted(self.path.glob("*.csv")):
            table = TABLES[file.stem]
            types = {c.name: _ARROW_TYPES[c.type] for c in table.columns}
            data = pacsv.read_csv(
                file,
                convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
            )
            pq.write_table(data, target / f"{file.stem}.parquet")
        return target


@pytest.fixture
def data(tmp_path: Path) -> DataDir:
    """A fresh copy of the valid data directory, as CSV files."""
    return DataDir(tmp_path / "data")
