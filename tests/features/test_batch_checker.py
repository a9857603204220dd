"""One :class:`~vitals.serving.ingest.ingestor.Ingestor` checks batch after batch on the same
scratch database and cached base columns: each batch must be judged exactly as a fresh ingestor
(which loads the base and every committed batch anew) judges it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from vitals.config.settings import get_settings
from vitals.serving.ingest.ingestor import Ingestor

if TYPE_CHECKING:
    from conftest import DataDir

NOW = datetime(2024, 2, 1)


@pytest.fixture(autouse=True)
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Commit batches to a store of the test's own (loads of the data read it too)."""
    monkeypatch.setenv("VITALS_INGEST__STORE_DIR", str(tmp_path / "ingested"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def ingestor(data: DataDir) -> Ingestor:
    return Ingestor(data.path, get_settings().ingest)


def account(account_id: str, parent_id: str | None = None, **fields: Any) -> dict[str, Any]:
    row = {"account_id": account_id, "parent_id": parent_id, "segment": "smb"}
    return row | {"created_at": "2024-01-07T00:00:00"} | fields


def event(account_id: str, **fields: Any) -> dict[str, Any]:
    row = {"account_id": account_id, "timestamp": "2024-01-07T10:00:00", "event_type": "login"}
    return row | {"duration": 5} | fields


def with_event_duration(data: DataDir) -> None:
    """Give the events an extra integer column (checked against its type in the data)."""
    lines = data.file("events").read_text().splitlines()
    data.file("events").write_text(
        "\n".join([lines[0] + ",duration"] + [line + ",7" for line in lines[1:]]) + "\n"
    )


def test_a_batch_after_others_is_judged_as_by_a_fresh_ingestor(data: DataDir) -> None:
    with_event_duration(data)
    first = {
        # a parent cycle, an event of a refused account, an unreadable extra value, a new account
        "accounts": [account("c1", "c2"), account("c2", "c1"), account("e1")],
        "events": [event("c1"), event("a2", duration="x"), event("b1"), event("e1")],
    }
    second = {
        "accounts": [
            account("d1"),
            account("a1"),
            account("d2", created_at="garbage"),
            account("e1"),  # added by the first batch
        ],
        "events": [
            event("d1"),
            event("a2"),
            event("nope"),
            event("a3", timestamp="garbage"),
            event("b1", event_type=""),
            event("b1", timestamp="2999-01-01T00:00:00"),
            event("d2"),
            event("a2", duration="abc"),
            event("c1"),
            event("e1"),
        ],
    }
    reused = ingestor(data)
    assert reused.ingest(first, "first", now=NOW).rejected
    fresh = ingestor(data)
    expected = fresh.check(second, now=NOW)
    fresh.close()

    result = reused.ingest(second, "second", now=NOW)
    reused.close()

    assert result.rejected == expected
    assert {(r["table"], r["index"]) for r in expected} == {
        ("accounts", 1),
        ("accounts", 2),
        ("accounts", 3),
        *(("events", i) for i in range(2, 9)),
    }
    assert result.accepted == {"accounts": 1, "events": 3}
    repeated = next(r for r in expected if (r["table"], r["index"]) == ("accounts", 3))
    assert repeated["rule"] == "unique_account_id" and "already exists" in repeated["message"]


def test_a_table_a_batch_creates_is_used_by_the_next_batch(data: DataDir) -> None:
    data.remove("surveys")
    survey = {"account_id": "a2", "responded_at": "2024-01-07T12:00:00", "kind": "nps"}
    reused = ingestor(data)
    assert reused.ingest({"surveys": [survey | {"score": 8}]}, "first", now=NOW).accepted == {
        "surveys": 1
    }
    second = {"surveys": [survey | {"score": 9}, survey | {"score": "high"}]}
    fresh = ingestor(data)
    expected = fresh.check(second, now=NOW)
    fresh.close()

    result = reused.ingest(second, "second", now=NOW)

    assert result.rejected == expected
    assert [(r["index"], r["rule"], r["field"]) for r in expected] == [(1, "bad_value", "score")]
    assert result.accepted == {"surveys": 1}
    scores = reused.dataset.con.execute("SELECT score FROM surveys ORDER BY score").fetchall()
    assert scores == [(8.0,), (9.0,)]
    reused.close()
