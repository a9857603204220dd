"""Validation: each contract rule broken on purpose, and quarantine of the offending rows."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from vitals.features.loader import DataContractError
from vitals.features.rules import cycle_members
from vitals.features.validate import ValidationReport, Violation, validate_dataset

NOW = datetime(2025, 1, 1)


def _only(report: ValidationReport) -> Violation:
    assert len(report.violations) == 1, [(v.table, v.rule, v.count) for v in report.violations]
    return report.violations[0]


def _find(report: ValidationReport, table: str, rule: str) -> Violation:
    found = [v for v in report.violations if v.table == table and v.rule == rule]
    assert found, [(v.table, v.rule) for v in report.violations]
    return found[0]


def test_valid_data_passes(data):
    report = validate_dataset(data.path, now=NOW)

    assert report.ok
    assert report.violations == []
    assert report.kept_rows == {
        "accounts": 4, "subscriptions": 3, "events": 5, "tickets": 2, "surveys": 2, "sentiment": 2
    }  # fmt: skip


def test_valid_parquet_data_passes(data, tmp_path):
    assert validate_dataset(data.to_parquet(tmp_path / "pq"), now=NOW).ok


_B1 = "b1,,Beta Ltd,smb,2023-06-01T00:00:00,bronze,12"

# (table, old text, new text, rule id, rows counted, column named in the message)
BREAKS = [
    ("accounts", "West,,2023-03-15T12:00:00", "West,,", "not_null", 1, "created_at"),
    ("events", "09:00:00,login", "09:00:00,", "not_null", 1, "event_type"),
    ("tickets", "b1,t2,", ",t2,", "not_null", 1, "account_id"),
    ("accounts", _B1, f"{_B1}\n{_B1}", "unique_account_id", 2, "account_id"),
    ("tickets", "b1,t2,", "b1,t1,", "unique_ticket_id", 2, "ticket_id"),
    ("accounts", "a3,a1,", "a3,zz,", "unknown_parent", 1, "parent_id"),
    ("subscriptions", "b1,2023", "zz,2023", "unknown_account", 1, "account_id"),
    ("events", "a3,2024", "zz,2024", "unknown_account", 1, "account_id"),
    ("tickets", "b1,t2,", "zz,t2,", "unknown_account", 1, "account_id"),
    ("surveys", "b1,2024", "zz,2024", "unknown_account", 1, "account_id"),
    ("sentiment", "a3,2024", "zz,2024", "unknown_account", 1, "account_id"),
    ("accounts", "a1,,Acme", "a1,a3,Acme", "parent_cycle", 2, "parent_id"),
    ("accounts", "b1,,Beta", "b1,b1,Beta", "parent_cycle", 1, "parent_id"),
    ("subscriptions", "1200.0,40", "-1200.0,40", "range_mrr", 1, "mrr"),
    ("subscriptions", "1200.0,40", "2e15,40", "range_mrr", 1, "mrr"),
    ("events", "exports,1.5", "exports,inf", "range_value", 1, "value"),
    ("events", "reports,3", "reports,-3e15", "range_value", 1, "value"),
    ("subscriptions", "1200.0,40", "1200.0,-40", "range_seats", 1, "seats"),
    ("subscriptions", "core,0.1,12", "core,1.5,12", "range_discount", 1, "discount"),
    ("subscriptions", "core,0,1", "core,0,0", "range_billing_period_months", 1, "billing_period"),
    ("tickets", "high,4", "high,6", "range_csat", 1, "csat"),
    ("tickets", "high,4", "critical,4", "allowed_priority", 1, "priority"),
    ("surveys", "nps,9", "nps,11", "range_score", 1, "score"),
    ("surveys", "csat,4", "csat,0", "range_score", 1, "score"),
    ("surveys", "csat,4", "ces,4", "allowed_kind", 1, "kind"),
    ("sentiment", "green", "blue", "allowed_rating", 1, "rating"),
    ("subscriptions", "2024-03-14", "2023-03-14", "end_before_start", 1, "end_date"),
    ("tickets", "2024-01-03T09", "2024-01-01T09", "closed_before_opened", 1, "closed_at"),
    ("events", "2024-01-05T09", "2030-01-05T09", "future_timestamp", 1, "timestamp"),
    ("subscriptions", "2023-06-01,,", "2026-06-01,,", "future_timestamp", 1, "start_date"),
    ("events", "2024-01-03T08:00:00", "2024-13-01", "bad_value", 1, "timestamp"),
    ("subscriptions", "99.5", "ninety", "bad_value", 1, "mrr"),
    ("events", "2024-01-05T09", "0001-01-05T09", "timestamp_range", 1, "timestamp"),
    ("accounts", "2023-06-01T00:00:00", "1899-12-31T23:59:59", "timestamp_range", 1, "created"),
    ("subscriptions", "b1,2023-06-01", "b1,1000-06-01", "timestamp_range", 1, "start_date"),
    ("tickets", "2024-01-03T09:00:00", "3000-01-03T09:00:00", "timestamp_range", 1, "closed"),
    ("events", "2024-01-05T09:00:00", "2024-01-05T10:00:00 Europe/Berlin", "bad_value", 1, "time"),
]


@pytest.mark.parametrize(
    ("table", "old", "new", "rule", "count", "column"),
    BREAKS,
    ids=[f"{b[3]}-{b[0]}-{i}" for i, b in enumerate(BREAKS)],
)
def test_each_broken_rule_is_reported(data, table, old, new, rule, count, column):
    data.replace(table, old, new)
    report = validate_dataset(data.path, now=NOW)

    violation = _only(report)
    assert (violation.table, violation.rule, violation.count) == (table, rule, count)
    assert table in violation.message and column in violation.message
    assert violation.column.startswith(column)
    assert not report.ok
    assert 1 <= len(violation.examples) <= count


def test_messages_name_the_table_and_field(data):
    data.replace("subscriptions", "1200.0,40", "-1200.0,40")
    data.replace("events", "a3,2024", "zz,2024")
    messages = [v.message for v in validate_dataset(data.path, now=NOW).violations]

    assert messages == [
        "subscriptions.mrr is not within 0..1e+15",
        "events.account_id names an unknown account",
    ]


def test_bad_value_names_file_column_row_and_the_rest_is_still_checked(data):
    data.replace("events", "2024-01-03T08:00:00", "2024-13-01")
    data.replace("subscriptions", "1200.0,40", "-1200.0,40")
    report = validate_dataset(data.path, now=NOW)

    bad = _find(report, "events", "bad_value")
    assert bad.message.startswith('events.csv: column "timestamp", row 3: "2024-13-01"')
    assert bad.examples == [{"row": 3, "timestamp": "2024-13-01"}]
    assert _find(report, "subscriptions", "range_mrr").count == 1
    assert not [v for v in report.violations if v.rule == "not_null"]  # no double report


def test_examples_are_at_most_five_rows_with_their_row_numbers(data):
    data.append("events", *[f"zz{i},2024-01-06T10:00:00,login,,," for i in range(7)])
    violation = _only(validate_dataset(data.path, now=NOW))

    assert violation.count == 7
    assert [e["row"] for e in violation.examples] == [6, 7, 8, 9, 10]
    assert violation.examples[0]["account_id"] == "zz0"


@pytest.mark.parametrize(
    ("edit", "table", "rule"),
    [
        (lambda d: d.remove("events"), "events", "missing_table"),
        (lambda d: d.replace("events", "id,timestamp,", "id,ts,"), "events", "missing_column"),
        (
            lambda d: d.append("events", "b1,2024-01-06,login,u2,,,surplus"),
            "events",
            "unreadable_file",
        ),
        (lambda d: (d.path / "tickets.parquet").write_bytes(b"?"), "tickets", "duplicate_file"),
    ],
)
def test_file_problems_are_violations_and_other_tables_are_still_checked(data, edit, table, rule):
    edit(data)
    data.replace("subscriptions", "1200.0,40", "-1200.0,40")
    report = validate_dataset(data.path, now=NOW)

    violation = _find(report, table, rule)
    assert violation.count == 1 and table in violation.message
    assert _find(report, "subscriptions", "range_mrr").count == 1


def test_missing_column_does_not_also_report_nulls(data):
    data.file("events").write_text("account_id,event_type,user_id,feature,value\na2,login,,,\n")
    report = validate_dataset(data.path, now=NOW)

    assert [(v.table, v.rule, v.column) for v in report.violations] == [
        ("events", "missing_column", "timestamp")
    ]


def test_absent_optional_tables_and_empty_tables_are_fine(data):
    data.remove("surveys")
    data.remove("sentiment")
    data.file("tickets").write_text("account_id,ticket_id,opened_at,closed_at,priority,csat\n")
    report = validate_dataset(data.path, now=NOW)

    assert report.ok
    assert report.kept_rows["tickets"] == 0 and "surveys" not in report.kept_rows


def test_now_defaults_to_the_current_time_and_accepts_time_zones(data):
    data.replace("events", "2024-01-05T09:00:00", "2099-01-05T09:00:00")

    assert _only(validate_dataset(data.path)).rule == "future_timestamp"
    assert validate_dataset(data.path, now=datetime(2099, 1, 5, 10, tzinfo=UTC)).ok


def test_without_quarantine_nothing_is_written(data, tmp_path):
    data.replace("events", "a3,2024-01-03", "zz,2024-01-03")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    report = validate_dataset(data.path, now=NOW)

    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert report.quarantined == {} and report.kept_rows["events"] == 5


def test_quarantine_splits_bad_rows_and_the_clean_data_validates(data, tmp_path):
    data.replace("events", "a3,2024-01-03", "zz,2024-01-03")  # unknown account
    data.replace("subscriptions", "1200.0,40", "-1200.0,40")  # negative mrr
    data.replace("accounts", "b1,,Beta Ltd,smb,2023-06-01T00:00:00", "b1,,Beta Ltd,smb,")
    out = tmp_path / "quarantine"
    report = validate_dataset(data.path, quarantine_dir=out, now=NOW)

    # b1 is quarantined (null created_at), so its subscription, events, ticket, survey go too
    assert _find(report, "events", "orphaned").count == 2
    assert set(report.quarantined) == {"accounts", "subscriptions", "events", "tickets", "surveys"}
    events = pq.read_table(out / "events.parquet").to_pylist()
    orphaned = ["orphaned:account_id"]
    assert [(e["source_row"], e["broken_rules"]) for e in events] == [
        (3, ["unknown_account:account_id"]), (4, orphaned), (5, orphaned)
    ]  # fmt: skip
    accounts = pq.read_table(out / "accounts.parquet").to_pylist()
    assert accounts[0]["account_id"] == "b1" and accounts[0]["broken_rules"] == [
        "not_null:created_at"
    ]
    assert pq.read_table(out / "subscriptions.parquet").column("broken_rules").to_pylist() == [
        ["range_mrr"], ["orphaned:account_id"]
    ]  # fmt: skip
    assert report.kept_rows == {
        "accounts": 3, "subscriptions": 1, "events": 2, "tickets": 1, "surveys": 1, "sentiment": 2
    }  # fmt: skip
    clean = validate_dataset(out / "clean", now=NOW)
    assert clean.ok and clean.kept_rows == report.kept_rows
    assert pq.read_table(out / "clean" / "accounts.parquet").column_names[-2:] == [
        "plan",
        "employees",
    ]


def test_quarantine_follows_the_hierarchy_until_stable(data, tmp_path):
    data.replace("accounts", "a1,,Acme Group", "a1,zz,Acme Group")  # a1's parent is unknown
    out = tmp_path / "quarantine"
    report = validate_dataset(data.path, quarantine_dir=out, now=NOW)

    # a1 goes, then its children a2 and a3, then everything of a2 and a3
    assert _find(report, "accounts", "unknown_parent").count == 1
    assert _find(report, "accounts", "orphaned").count == 2
    assert report.kept_rows == {
        "accounts": 1, "subscriptions": 1, "events": 2, "tickets": 1, "surveys": 1, "sentiment": 0
    }  # fmt: skip
    assert validate_dataset(out / "clean", now=NOW).ok


def test_quarantine_of_a_cycle_and_of_unreadable_values(data, tmp_path):
    data.replace("accounts", "a1,,Acme Group", "a1,a3,Acme Group")
    data.replace("tickets", "b1,t2,2024-01-04T17:00:00", "b1,t2,yesterday")
    out = tmp_path / "quarantine"
    report = validate_dataset(data.path, quarantine_dir=out, now=NOW)

    assert _find(report, "accounts", "parent_cycle").count == 2
    tickets = pq.read_table(out / "tickets.parquet").to_pylist()
    assert [t["broken_rules"] for t in tickets] == [
        ["orphaned:account_id"],
        ["bad_value:opened_at"],
    ]
    assert validate_dataset(out / "clean", now=NOW).ok


def test_quarantine_replaces_stale_files_and_refuses_the_data_directory(data, tmp_path):
    out = tmp_path / "quarantine"
    (out / "clean").mkdir(parents=True)
    (out / "events.parquet").write_bytes(b"stale")
    (out / "clean" / "invoices.csv").write_text("kept\n")
    report = validate_dataset(data.path, quarantine_dir=out, now=NOW)

    assert report.quarantined == {} and not (out / "events.parquet").exists()
    assert (out / "clean" / "invoices.csv").exists()
    with pytest.raises(DataContractError, match="would overwrite the data directory"):
        validate_dataset(data.path, quarantine_dir=data.path, now=NOW)


def test_stamps_outside_the_supported_range_name_it(data):
    data.replace("events", "2024-01-05T09:00:00", "0001-01-01T00:00:00")
    violation = _only(validate_dataset(data.path, now=NOW))

    assert violation.message == (
        "events.timestamp is outside the supported range 1900-01-01..2199-12-31 "
        "(a typo or a placeholder date?)"
    )
    assert violation.examples[0]["timestamp"] == datetime(1, 1, 1)


def test_a_zone_name_is_a_bad_value_that_says_why(data):
    data.replace("events", "2024-01-05T09:00:00", "2024-01-05T10:00:00 Europe/Berlin")
    violation = _only(validate_dataset(data.path, now=NOW))

    assert "a time zone name is not read" in violation.message
    assert "+02:00" in violation.message


def test_a_scheduled_end_after_the_data_is_a_running_line_with_one_warning(data, tmp_path):
    # an annual contract exported with its term end: after the data, and after "now"
    data.replace("subscriptions", "a2,2023-02-01,,", "a2,2023-02-01,2026-02-01,")
    data.append("events", "b1,2024-03-20T09:00:00,login,,,")  # a3's 2024-03-14 end is known
    report = validate_dataset(data.path, now=NOW)

    assert report.ok and report.violations == []
    [warning] = report.warnings
    assert (warning.table, warning.rule, warning.column, warning.count) == (
        "subscriptions", "scheduled_end", "end_date", 1
    )  # fmt: skip
    assert warning.message == (
        "subscriptions.end_date is after the data's last day (2024-03-20): a scheduled end, "
        "so the line is treated as still running"
    )
    assert warning.examples[0]["account_id"] == "a2"
    # quarantine keeps the line: a live line set aside would make a2 churn
    out = tmp_path / "quarantine"
    assert validate_dataset(data.path, quarantine_dir=out, now=NOW).quarantined == {}
    assert pq.read_table(out / "clean" / "subscriptions.parquet").num_rows == 3


def test_a_placeholder_end_date_is_a_running_line_too(data):
    data.replace("subscriptions", "a2,2023-02-01,,", "a2,2023-02-01,9999-12-31,")
    report = validate_dataset(data.path, now=NOW)

    assert report.ok
    assert [(w.rule, w.count) for w in report.warnings] == [("scheduled_end", 2)]  # a2, a3


def test_quarantining_part_of_an_accounts_lines_sets_the_account_aside(data, tmp_path):
    # a2's renewal line breaks a rule; keeping only its first line would invent a churn
    data.replace("subscriptions", "a2,2023-02-01,,", "a2,2023-02-01,2024-01-31,")
    data.append("subscriptions", "a2,2024-02-01,,-5,40,core,0.1,12")
    out = tmp_path / "quarantine"
    report = validate_dataset(data.path, quarantine_dir=out, now=NOW)

    moved = _find(report, "accounts", "subscription_quarantined")
    assert moved.count == 1 and moved.examples[0]["account_id"] == "a2"
    assert "churn label" in moved.message
    lines = pq.read_table(out / "subscriptions.parquet").to_pylist()
    assert [(r["account_id"], r["broken_rules"]) for r in lines] == [
        ("a2", ["orphaned:account_id"]), ("a2", ["range_mrr"])
    ]  # fmt: skip
    kept = pq.read_table(out / "clean" / "subscriptions.parquet").column("account_id")
    assert "a2" not in kept.to_pylist()
    assert validate_dataset(out / "clean", now=NOW).ok


def test_an_account_whose_only_line_is_quarantined_keeps_its_other_rows(data, tmp_path):
    data.replace("subscriptions", "1200.0,40", "-1200.0,40")  # a2's only line
    report = validate_dataset(data.path, quarantine_dir=tmp_path / "q", now=NOW)

    assert not [v for v in report.violations if v.rule == "subscription_quarantined"]
    assert report.kept_rows["accounts"] == 4


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("events", "events has no rows: Vitals needs product events to compute health"),
        ("accounts", "accounts has no rows: Vitals needs the customer accounts to score"),
        (
            "subscriptions",
            "subscriptions has no rows: Vitals needs subscription lines to tell who is a "
            "customer and who churned",
        ),
    ],
)
def test_an_empty_required_table_fails_validation(data, table, message):
    header = data.file(table).read_text().splitlines()[0]
    data.file(table).write_text(header + "\n")
    report = validate_dataset(data.path, now=NOW)

    violation = _find(report, table, "empty_table")
    assert violation.message == message and not report.ok


def test_a_csv_without_its_header_row_is_one_clear_violation(data):
    text = data.file("accounts").read_text()
    data.file("accounts").write_text(text.split("\n", 1)[1])
    report = validate_dataset(data.path, now=NOW)

    violation = _find(report, "accounts", "missing_header")
    assert violation.message.startswith("accounts.csv: the first line is not a header row")
    assert "account_id, parent_id, name, segment, created_at" in violation.message
    assert '"a1"' in violation.message
    assert not report.for_table("accounts")[1:]  # no missing_column for every column


def _busy_events(data, days: int = 30) -> None:
    """Thirty more days of events in January 2024, so outliers are a small share of the table."""
    data.append("events", *[f"b1,2024-01-{d:02d}T12:00:00,login,u7,," for d in range(1, days)])


@pytest.mark.parametrize("stamp", ["1970-01-01T00:00:00", "1900-01-01T00:00:00", "2023-09-01"])
def test_events_long_before_the_rest_are_a_warning_with_examples(data, stamp):
    _busy_events(data)
    data.append("events", f"a2,{stamp},login,u1,,")
    report = validate_dataset(data.path, now=NOW)

    assert report.ok
    [warning] = [w for w in report.warnings if w.table == "events"]
    assert (warning.table, warning.rule, warning.column, warning.count) == (
        "events", "early_outlier", "timestamp", 1
    )  # fmt: skip
    assert "more than 90 days before the rest of events, which starts on 2024-01-01" in (
        warning.message
    )
    assert warning.examples[0]["timestamp"] == datetime.fromisoformat(stamp)
    console = Console(file=io.StringIO(), width=200)
    report.render(console)
    assert "warning: early_outlier  1 row(s)" in console.file.getvalue()
    assert report.to_dict()["warnings"][1]["rule"] == "early_outlier"  # after scheduled_end


def test_steady_history_has_no_outliers(data):
    _busy_events(data)
    data.append("events", *[f"a2,2023-{m:02d}-15T12:00:00,login,u1,," for m in range(1, 13)])

    assert not [w for w in validate_dataset(data.path, now=NOW).warnings if w.table == "events"]


def test_report_serialises_and_renders(data):
    data.replace("events", "a3,2024-01-03", "zz,2024-01-03")
    report = validate_dataset(data.path, now=NOW)

    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["ok"] is False
    assert payload["violations"][0]["examples"][0]["timestamp"] == "2024-01-03T08:00:00"
    console = Console(file=io.StringIO(), width=120)
    report.render(console)
    text = console.file.getvalue()
    assert "unknown_account" in text and "events" in text and "zz" in text


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ([("a", "b"), ("b", "c")], set()),
        ([("a", "a")], {"a"}),
        ([("a", "b"), ("b", "a"), ("c", "a"), ("d", "c")], {"a", "b"}),
        ([("a", "b"), ("b", "c"), ("c", "a"), ("x", "y")], {"a", "b", "c"}),
    ],
)
def test_cycle_members(edges, expected):
    assert cycle_members(edges) == expected
