"""Band overrides in the store, on SQLite and PostgreSQL: one open override per account, even
when two people save at once, and an expiry that closes the override and is audited."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from test_store import publish

from vitals.serving.people import overrides
from vitals.serving.people.audit import AuditQuery, audit_page
from vitals.serving.store import BandOverride, HealthStore, upgrade
from vitals.serving.store.migrate import alembic_config

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[HealthStore]:
    """A store with scores of accounts a1 and a2."""
    opened = HealthStore.open(database_url)
    publish(opened, {date(2026, 2, 23): {"a1": 85.0, "a2": 40.0}})
    yield opened
    opened.close()


def open_rows(store: HealthStore, account: str) -> list[BandOverride]:
    """The account's overrides not ended (by hand, by a change or by expiry)."""
    with store.session() as session:
        found = select(BandOverride).where(
            BandOverride.account_id == account, BandOverride.ended_at.is_(None)
        )
        return list(session.scalars(found))


def actions(store: HealthStore, account: str) -> list[tuple[str, str, datetime]]:
    """The account's audit entries: action, actor and time (UTC)."""
    with store.session() as session:
        rows, _ = audit_page(session, AuditQuery(account_id=account))
        return [(r.action, r.actor, r.at.replace(tzinfo=UTC)) for r in rows]


def save(store: HealthStore, band: str, author: str, now: datetime = NOW, **kw: datetime) -> None:
    """Save an override of a1 to ``band`` by ``author``."""
    overrides.save_override(
        store, "a1", band=band, reason=f"to {band}", author=author, now=now, **kw
    )


def test_the_store_refuses_a_second_open_override_of_an_account(store: HealthStore) -> None:
    save(store, "poor", "ann")
    with store.session() as session, pytest.raises(IntegrityError):
        session.add(BandOverride(
            account_id="a1", band="good", reason="r", author="bob", created_at=NOW,
            expires_at=NOW + timedelta(days=1),
        ))  # fmt: skip
        session.commit()


def test_two_people_saving_at_once_leave_one_override_and_both_audited(
    store: HealthStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # both read "no override in force" before either writes: the race the unique row settles
    both_read = threading.Barrier(2, timeout=30)
    reads = threading.local()
    looked_up = overrides.active_overrides

    def racing_lookup(
        session: Session, account_ids: Sequence[str], now: datetime
    ) -> dict[str, BandOverride]:
        found = looked_up(session, account_ids, now)
        if not getattr(reads, "done", False):
            reads.done = True
            both_read.wait()
        return found

    monkeypatch.setattr(overrides, "active_overrides", racing_lookup)
    failures: list[BaseException] = []

    def person(band: str, author: str) -> None:
        try:
            save(store, band, author)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    people = [threading.Thread(target=person, args=a) for a in (("poor", "ann"), ("good", "bob"))]
    for thread in people:
        thread.start()
    for thread in people:
        thread.join(60)
    assert failures == []
    assert len(open_rows(store, "a1")) == 1
    assert sorted(a for a, _, _ in actions(store, "a1")) == ["override.change", "override.create"]


def test_an_expired_override_is_closed_and_audited_at_its_expiry(store: HealthStore) -> None:
    expiry = NOW + timedelta(days=2)
    save(store, "poor", "ann", expires_at=expiry)
    later = NOW + timedelta(days=5)
    with store.session() as session:
        assert overrides.active_overrides(session, ["a1"], later) == {}
        assert overrides.expire_due(session, later) == 1
        assert overrides.expire_due(session, later) == 0  # closed once
        session.commit()
    assert open_rows(store, "a1") == []
    assert actions(store, "a1") == [
        ("override.create", "ann", NOW),
        ("override.expire", overrides.EXPIRY_ACTOR, expiry),
    ]


def test_a_new_override_after_an_expiry_audits_the_expiry_first(store: HealthStore) -> None:
    save(store, "poor", "ann", expires_at=NOW + timedelta(days=2))
    save(store, "good", "bob", now=NOW + timedelta(days=3))
    assert [a for a, _, _ in actions(store, "a1")] == [
        "override.create",
        "override.expire",
        "override.create",  # not a change: nothing was in force any more
    ]
    assert [r.band for r in open_rows(store, "a1")] == ["good"]


def test_an_account_without_scores_cannot_be_overridden(store: HealthStore) -> None:
    with pytest.raises(overrides.OverrideError) as refused:
        overrides.save_override(store, "nope", band="poor", reason="r", author="a", now=NOW)
    assert refused.value.field == "account_id"


def test_a_save_that_loses_twice_is_a_conflict_not_a_store_error(
    store: HealthStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(store, "poor", "ann")
    # every lookup misses the row in force, as if another writer saved one each time
    monkeypatch.setattr(overrides, "active_overrides", lambda *_: {})
    with pytest.raises(overrides.OverrideConflict, match="same moment"):
        save(store, "good", "bob")
    monkeypatch.undo()
    assert [r.band for r in open_rows(store, "a1")] == ["poor"]
    assert [a for a, _, _ in actions(store, "a1")] == ["override.create"]


def test_two_writers_closing_one_expired_override_audit_its_expiry_once(
    store: HealthStore,
) -> None:
    save(store, "poor", "ann", expires_at=NOW + timedelta(days=1))
    later = NOW + timedelta(days=2)
    with store.session() as first, store.session() as second:
        [stale] = open_rows(store, "a1")  # the second writer read it open ...
        assert overrides.expire_due(first, later) == 1  # ... and the first closed it
        first.commit()
        assert not overrides._end(second, stale, "someone", later)  # so it is not ended again
        second.commit()
    assert [a for a, _, _ in actions(store, "a1")] == ["override.create", "override.expire"]
    assert open_rows(store, "a1") == []


def test_migration_0010_ends_duplicate_open_overrides_and_audits_each(database_url: str) -> None:
    opened = HealthStore.open(database_url)
    config = alembic_config()
    with opened.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    with opened.session() as session:
        for day, band in ((1, "poor"), (2, "average"), (3, "good")):
            session.add(BandOverride(
                account_id="a1", band=band, reason="r", author="ann",
                created_at=NOW + timedelta(days=day), expires_at=NOW + timedelta(days=30),
            ))  # fmt: skip
        session.commit()
    upgrade(opened.engine)
    assert [r.band for r in open_rows(opened, "a1")] == ["good"]
    ended = actions(opened, "a1")
    assert ended == [("override.end", "vitals (migration 0010)", NOW + timedelta(days=3))] * 2
    with opened.session() as session:
        rows, _ = audit_page(session, AuditQuery(account_id="a1"))
        assert sorted(r.before["band"] for r in rows) == ["average", "poor"]
    opened.close()
