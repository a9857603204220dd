"""Loading a data directory: types, optional tables and columns, and clear errors."""

from __future__ import annotations

import logging
from datetime import date, datetime

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from handmade import account, event, line, write_tables

from vitals.features.contract import DUCKDB_TYPES, TABLES
from vitals.features.loader import DataContractError, load_dataset, scheduled_ends


def _types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE {table}").fetchall()}


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    columns = ", ".join(f'"{c}"' for c in TABLES[table].column_names)
    return con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()


def test_every_contract_column_has_its_contract_type(data):
    dataset = load_dataset(data.path)

    assert set(dataset.files) == set(TABLES)
    for name, table in TABLES.items():
        types = _types(dataset.con, name)
        for column in table.columns:
            assert types[column.name] == DUCKDB_TYPES[column.type], (name, column.name)


def test_extra_csv_columns_are_kept_and_numbers_read_as_numbers(data):
    types = _types(load_dataset(data.path).con, "accounts")

    assert types["plan"] == "VARCHAR"
    assert types["employees"] == "BIGINT"


def test_csv_and_parquet_give_the_same_tables(data, tmp_path):
    from_csv = load_dataset(data.path)
    from_parquet = load_dataset(data.to_parquet(tmp_path / "pq"))

    for table in TABLES:
        assert _rows(from_csv.con, table) == _rows(from_parquet.con, table), table
        assert _types(from_csv.con, table).items() >= {
            (c, t)
            for c, t in _types(from_parquet.con, table).items()
            if c in TABLES[table].column_names
        }


def test_values_are_read_exactly(data):
    data.replace("events", "2024-01-02T10:05:00", "2024-01-02T11:05:00+01:00")
    data.replace("subscriptions", "core,,12", "core,,12.0")
    con = load_dataset(data.path).con

    stamps = con.execute("SELECT timestamp FROM events WHERE event_type = 'report_run'").fetchall()
    assert stamps == [(datetime(2024, 1, 2, 10, 5),)]  # the offset is converted to UTC
    row = con.execute(
        "SELECT end_date, discount, billing_period_months FROM subscriptions "
        "WHERE account_id = 'a3'"
    ).fetchall()
    assert row == [(date(2024, 3, 14), None, 12)]


def test_data_end_is_the_latest_stamp_but_never_a_scheduled_end(data):
    # a3's end_date (2024-03-14) lies after every other stamp: a scheduled end, not data
    assert load_dataset(data.path).data_end == datetime(2024, 1, 6, 8)  # a sentiment record

    data.append("events", "b1,2024-03-20T09:00:00,login,,,")
    assert load_dataset(data.path).data_end == datetime(2024, 3, 20, 9)


def test_end_dates_after_the_data_are_kept_and_counted_in_one_warning(data, caplog):
    # annual contracts are often exported with their scheduled term end
    data.replace("subscriptions", "a2,2023-02-01,,", "a2,2023-02-01,2024-06-30,")
    with caplog.at_level(logging.WARNING, logger="vitals.features.loader"):
        dataset = load_dataset(data.path)

    ends = dataset.con.execute("SELECT account_id, end_date FROM subscriptions ORDER BY 1")
    assert ends.fetchall() == [("a2", date(2024, 6, 30)), ("a3", date(2024, 3, 14)), ("b1", None)]
    assert scheduled_ends(dataset) == (2, date(2024, 1, 6))
    assert [r.getMessage() for r in caplog.records] == [
        "subscriptions: 2 lines end after the data's last day (2024-01-06); "
        "treated as still running (a scheduled end is not yet known)"
    ]


def test_a_csv_without_its_header_row_says_what_was_expected_and_found(data):
    text = data.file("accounts").read_text()
    data.file("accounts").write_text(text.split("\n", 1)[1])
    with pytest.raises(DataContractError) as err:
        load_dataset(data.path)

    assert str(err.value) == (
        "accounts.csv: the first line is not a header row: it names none of the columns "
        'account_id, parent_id, name, segment, created_at (found "a1", "", "Acme Group", '
        '"enterprise", "2023-01-01T00:00:00", "gold", "5000"); add the header row'
    )


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-01-02T11:05:00 Europe/Berlin",
        "2024-01-02 11:05:00 CET",
        "2024-01-02T11:05:00 America/New_York",
        "2024-01-02T11:05:00[Europe/Berlin]",
    ],
)
def test_a_time_zone_name_is_refused_not_read_as_utc(data, stamp):
    data.replace("events", "2024-01-02T10:05:00", stamp)
    with pytest.raises(DataContractError) as err:
        load_dataset(data.path)

    assert str(err.value) == (
        f'events.csv: column "timestamp", row 2: "{stamp}" is not an ISO-8601 timestamp: '
        "a time zone name is not read (it is ambiguous); give the time in UTC, "
        "or with its UTC offset such as +02:00"
    )


@pytest.mark.parametrize(
    ("stamp", "utc"),
    [
        ("2024-01-02T12:05:00+02:00", datetime(2024, 1, 2, 10, 5)),
        ("2024-01-02T05:05:00-0500", datetime(2024, 1, 2, 10, 5)),
        ("2024-01-02T10:05:00Z", datetime(2024, 1, 2, 10, 5)),
        ("2024-01-02 10:05:00 UTC", datetime(2024, 1, 2, 10, 5)),
        ("2024-01-02T10:05:00.250 GMT", datetime(2024, 1, 2, 10, 5, 0, 250000)),
    ],
)
def test_offsets_are_converted_and_utc_suffixes_read(data, stamp, utc):
    data.replace("events", "2024-01-02T10:05:00", stamp)
    con = load_dataset(data.path).con

    found = con.execute("SELECT timestamp FROM events WHERE event_type = 'report_run'").fetchall()
    assert found == [(utc,)]


def test_absent_optional_tables_are_fine_and_logged_once(data, caplog):
    for table in ("tickets", "surveys", "sentiment"):
        data.remove(table)
    with caplog.at_level(logging.INFO, logger="vitals.features.loader"):
        dataset = load_dataset(data.path)

    assert not dataset.has("tickets") and dataset.has("events")
    missing = [r.getMessage() for r in caplog.records if "feature" in r.getMessage()]
    assert len(missing) == 3 and any("tickets" in m for m in missing)


def test_absent_required_table_raises(data):
    data.remove("events")
    with pytest.raises(DataContractError, match=r"required table events is missing"):
        load_dataset(data.path)


def test_empty_present_table_is_fine(data):
    data.file("tickets").write_text("account_id,ticket_id,opened_at,closed_at,priority,csat\n")
    con = load_dataset(data.path).con

    assert con.execute("SELECT count(*) FROM tickets").fetchall() == [(0,)]
    assert _types(con, "tickets")["opened_at"] == "TIMESTAMP"


def test_missing_optional_column_is_a_typed_null_column(data):
    data.file("subscriptions").write_text(
        "account_id,start_date,end_date,mrr,seats\na2,2023-02-01,,1200.0,40\n"
    )
    dataset = load_dataset(data.path)

    assert _types(dataset.con, "subscriptions")["discount"] == "DOUBLE"
    assert dataset.con.execute("SELECT discount, product FROM subscriptions").fetchall() == [
        (None, None)
    ]
    assert set(dataset.added_columns["subscriptions"]) == {
        "product",
        "discount",
        "billing_period_months",
    }


def test_csv_header_lacking_a_required_column_raises(data):
    data.replace("events", "account_id,timestamp,", "account_id,ts,")
    with pytest.raises(
        DataContractError, match=r'^events\.csv: header lacks required column "timestamp"'
    ):
        load_dataset(data.path)


def test_malformed_timestamp_names_file_column_row_and_value(data):
    data.replace("events", "2024-01-03T08:00:00", "2024-13-01")
    with pytest.raises(DataContractError) as err:
        load_dataset(data.path)

    assert str(err.value) == (
        'events.csv: column "timestamp", row 3: "2024-13-01" is not an ISO-8601 timestamp'
    )


@pytest.mark.parametrize(
    ("table", "old", "new", "expected"),
    [
        ("subscriptions", "1200.0", "lots", 'column "mrr", row 1: "lots" is not a number'),
        ("subscriptions", "core,0,1", "core,0,1.5", 'column "billing_period_months", row 3'),
        ("subscriptions", "2023-06-01,,", "2023-06-01T10:00:00,,", 'column "start_date", row 3'),
    ],
)
def test_bad_values_of_other_types_raise(data, table, old, new, expected):
    data.replace(table, old, new)
    with pytest.raises(DataContractError, match=f"^{table}.csv: {expected}"):
        load_dataset(data.path)


def test_parquet_column_of_a_type_that_cannot_be_cast_raises(data, tmp_path):
    folder = data.to_parquet(tmp_path / "pq")
    events = pq.read_table(folder / "events.parquet")
    seconds = pa.array([1_704_189_600 + i for i in range(events.num_rows)], pa.int64())
    pq.write_table(events.set_column(1, "timestamp", seconds), folder / "events.parquet")

    with pytest.raises(DataContractError) as err:
        load_dataset(folder)
    assert str(err.value) == (
        'events.parquet: column "timestamp", row 1: 1704189600 (BIGINT) cannot be read as an '
        "ISO-8601 timestamp"
    )


def test_parquet_text_column_with_a_bad_number_names_the_row(data, tmp_path):
    folder = data.to_parquet(tmp_path / "pq")
    subs = pq.read_table(folder / "subscriptions.parquet")
    mrr = pa.array(["1200", "800", "n/a"], pa.string())
    pq.write_table(subs.set_column(3, "mrr", mrr), folder / "subscriptions.parquet")

    with pytest.raises(
        DataContractError, match=r'subscriptions.parquet: column "mrr", row 3: "n/a"'
    ):
        load_dataset(folder)


def test_parquet_ids_stored_as_numbers_become_matching_strings(data, tmp_path):
    folder = data.to_parquet(tmp_path / "pq")
    accounts = pq.read_table(folder / "accounts.parquet")
    ids = pa.array([1, 2, 3, 4], pa.int64())
    parents = pa.array(
        [None, 1.0, 1.0, None], pa.float64()
    )  # pandas turns an id column with nulls to float
    accounts = accounts.set_column(0, "account_id", ids).set_column(1, "parent_id", parents)
    pq.write_table(accounts, folder / "accounts.parquet")

    con = load_dataset(folder).con
    assert con.execute("SELECT account_id, parent_id FROM accounts ORDER BY 1").fetchall() == [
        ("1", None), ("2", "1"), ("3", "1"), ("4", None)
    ]  # fmt: skip


def test_parquet_timestamps_with_a_time_zone_are_read_as_utc(data, tmp_path):
    folder = data.to_parquet(tmp_path / "pq")
    events = pq.read_table(folder / "events.parquet")
    aware = events.column("timestamp").cast(pa.timestamp("us", tz="UTC"))
    pq.write_table(events.set_column(1, "timestamp", aware), folder / "events.parquet")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")  # must not shift the values

    load_dataset(folder, con)
    first = con.execute("SELECT min(timestamp) FROM events").fetchall()
    assert first == [(datetime(2024, 1, 2, 10, 0),)]


def test_table_with_both_csv_and_parquet_raises(data, tmp_path):
    folder = data.to_parquet(tmp_path / "pq")
    (folder / "events.csv").write_text(data.file("events").read_text())

    with pytest.raises(
        DataContractError, match=r"events\.csv and events\.parquet are both present"
    ):
        load_dataset(folder)


def test_unknown_table_file_is_ignored_and_logged(data, caplog):
    (data.path / "invoices.csv").write_text("id\n1\n")
    with caplog.at_level(logging.INFO, logger="vitals.features.loader"):
        dataset = load_dataset(data.path)

    assert "invoices" not in dataset.files
    assert any("invoices.csv" in r.getMessage() for r in caplog.records)
    assert not dataset.con.execute(
        "SELECT * FROM information_schema.tables WHERE table_name = 'invoices'"
    ).fetchall()


def test_malformed_csv_raises_naming_the_file_and_line(data):
    data.append("events", "b1,2024-01-06T09:00:00,login,u2,,,surplus")
    with pytest.raises(DataContractError, match=r"^events\.csv: cannot be read: .*Line: 7"):
        load_dataset(data.path)


def test_not_a_directory_raises(tmp_path):
    with pytest.raises(DataContractError, match="not a data directory"):
        load_dataset(tmp_path / "nowhere")


def test_reloading_a_connection_drops_tables_the_new_directory_lacks(data, tmp_path):
    con = duckdb.connect()
    load_dataset(data.path, con)
    data.remove("tickets")
    load_dataset(data.path, con)

    tables = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    assert "tickets" not in tables and "events" in tables


def test_parquet_nanosecond_timestamps_null_columns_and_extras_load(data, tmp_path):
    folder = data.to_parquet(tmp_path / "pq")
    n = 1_000
    pq.write_table(
        pa.table(
            {
                "account_id": pa.array(["a2", "b1"] * (n // 2)),
                "timestamp": pa.array(
                    [datetime(2024, 1, 1, 0, i % 60) for i in range(n)], pa.timestamp("ns")
                ),
                "event_type": pa.array(["login"] * n),
                "user_id": pa.nulls(n),
                "feature": pa.nulls(n),
                "value": pa.nulls(n),
                "extra_score": pa.array(range(n), pa.int32()),
            }
        ),
        folder / "events.parquet",
    )
    con = load_dataset(folder).con

    assert con.execute(
        "SELECT count(*), count(value), sum(extra_score) FROM events"
    ).fetchall() == [(n, 0, n * (n - 1) // 2)]
    assert _types(con, "events")["value"] == "DOUBLE"
    assert _types(con, "events")["timestamp"] == "TIMESTAMP"


def test_zone_aware_nanosecond_parquet_timestamps_are_read_in_utc(tmp_path) -> None:
    # pandas writes tz-aware datetimes as timestamp[ns, tz=...]: DuckDB's TIMESTAMPTZ_NS
    root = write_tables(
        tmp_path / "tzns",
        accounts=[account("a")],
        subscriptions=[line("a", "2024-01-01")],
        events=[event("a", "2024-02-01 10:00")],
    )
    accounts = pd.read_csv(root / "accounts.csv")
    accounts["created_at"] = pd.to_datetime(["2024-01-01T10:00:00+02:00"], utc=True).as_unit("ns")
    accounts.to_parquet(root / "accounts.parquet")
    (root / "accounts.csv").unlink()
    created = load_dataset(root).con.execute("SELECT created_at FROM accounts").fetchall()
    assert created == [(datetime(2024, 1, 1, 8, 0),)]
