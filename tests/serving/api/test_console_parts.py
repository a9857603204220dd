"""The console's parts: sparklines, the signing secret shared by processes, the score series
and the chain of parents it reads from the store."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from vitals.serving.console.charts import sparkline
from vitals.serving.console.session import Sessions
from vitals.serving.store import HealthRepository, HealthScore, HealthStore, console_secret
from vitals.serving.store.features_table import read_ancestors, read_subtree

START = date(2026, 1, 1)


@given(
    st.lists(
        st.tuples(st.integers(0, 180), st.floats(-50, 150, allow_nan=False)),
        min_size=1,
        max_size=40,
        unique_by=lambda p: p[0],
    )
)
def test_a_sparkline_stays_inside_its_box_and_keeps_the_order_of_dates(
    points: list[tuple[int, float]],
) -> None:
    series = sorted((START + timedelta(days=d), v) for d, v in points)
    line = sparkline(series, START, START + timedelta(days=180), width=120, height=28)
    assert line is not None
    placed = [tuple(map(float, p.split(","))) for p in line.points.split()]
    assert len(placed) == len(series)
    assert all(0 <= x <= 120 and 0 <= y <= 28 for x, y in placed)
    assert [x for x, _ in placed] == sorted(x for x, _ in placed)
    pairs = zip(series, series[1:], placed, placed[1:], strict=False)
    for (_, value), (_, later_value), (_, y), (_, later_y) in pairs:
        if later_value < value:
            assert later_y >= y  # lower health is drawn lower (SVG y grows downwards)
    assert (line.last_x, line.last_y) == placed[-1]
    assert sparkline([], START, START) is None


def test_every_process_gets_the_same_secret_and_a_session_signed_with_another_is_refused(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/vitals.db"
    stores = [HealthStore.open(url) for _ in range(4)]
    found: list[str] = []
    threads = [
        threading.Thread(target=lambda s=s: found.append(console_secret(s.engine))) for s in stores
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 4 and len(set(found)) == 1 and len(found[0]) >= 48
    for store in stores:
        store.close()

    class Key:
        id = "abc123"

    ours, theirs = Sessions(found[0], 60), Sessions("another secret", 60)
    assert ours.key_id(ours.issue(Key())) == "abc123"  # type: ignore[arg-type]
    assert ours.key_id(theirs.issue(Key())) is None  # type: ignore[arg-type]
    assert Sessions(found[0], -1).key_id(ours.issue(Key())) is None  # type: ignore[arg-type]


def test_score_series_and_ancestors_match_the_stored_rows(store_url: str) -> None:
    store = HealthStore.open(store_url)
    with store.session() as session:
        repo = HealthRepository(session)
        dates = repo.dates()
        ids = [r.account_id for r in repo.latest()[:20]]
        series = repo.score_series(ids, dates[1], dates[-1])
        for account in ids:
            stored = session.execute(
                select(HealthScore.as_of, HealthScore.health_score)
                .where(HealthScore.account_id == account, HealthScore.as_of >= dates[1])
                .order_by(HealthScore.as_of)
            ).all()
            assert series.get(account, []) == [tuple(r) for r in stored]
        roots = [r.account_id for r in repo.latest() if r.parent_id is None]
        for root in roots[:10]:
            for account, parent in read_subtree(session, root)[1:]:
                chain = read_ancestors(session, account)
                assert chain[0] == parent and chain[-1] == root
    store.close()
