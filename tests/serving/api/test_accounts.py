"""The worklist, one account's detail and its hierarchy, read from the filled store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from apikit import auth, copy_store
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from vitals.config.settings import Settings
from vitals.models.health_model import HealthModel
from vitals.serving.api.app import create_app
from vitals.serving.batch import LoadedModel
from vitals.serving.store import HealthScore, HealthStore, ParentHealth
from vitals.serving.store.schema import AccountHierarchy


@pytest.fixture(scope="module")
def stored(store_url: str) -> pd.DataFrame:
    """Every stored score."""
    store = HealthStore.open(store_url)
    with store.session() as session:
        rows = session.scalars(select(HealthScore)).all()
        frame = pd.DataFrame(
            [
                {
                    c: getattr(r, c)
                    for c in (
                        "account_id",
                        "as_of",
                        "parent_id",
                        "profile",
                        "band",
                        "health_score",
                        "churn_probability",
                        "revenue_at_risk",
                    )
                }
                for r in rows
            ]
        )
    store.close()
    return frame


def pages(client: TestClient, key: str, **params: object) -> list[dict]:
    """Every item of a worklist, page after page."""
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/accounts", headers=auth(key), params=query)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def test_pages_cover_the_filtered_worklist_once_in_order(
    client: TestClient, keys: dict[str, str], stored: pd.DataFrame, dates: list[date]
) -> None:
    latest = stored[stored["as_of"] == dates[-1]]
    items = pages(client, keys["read"], limit=7, band=["poor", "average"])
    expected = latest[latest["band"].isin(["poor", "average"])]
    assert sorted(i["account_id"] for i in items) == sorted(expected["account_id"])
    assert len({i["account_id"] for i in items}) == len(items)
    scores = [i["health_score"] for i in items]
    assert scores == sorted(scores)  # least healthy first
    risk = pages(client, keys["read"], limit=9, sort="revenue_at_risk", min_revenue_at_risk=100)
    values = [i["revenue_at_risk"] for i in risk]
    assert values == sorted(values, reverse=True) and min(values) >= 100
    assert len(risk) == int((latest["revenue_at_risk"].fillna(0) >= 100).sum())


def test_filters_by_profile_and_parent(
    client: TestClient, keys: dict[str, str], stored: pd.DataFrame, dates: list[date]
) -> None:
    latest = stored[stored["as_of"] == dates[-1]]
    parent = latest["parent_id"].dropna().value_counts().index[0]
    children = pages(client, keys["read"], parent=parent, profile=["smb", "mid_market"])
    expected = latest[
        (latest["parent_id"] == parent) & latest["profile"].isin(["smb", "mid_market"])
    ]
    assert {i["account_id"] for i in children} == set(expected["account_id"])


def descendants(parent_of: dict[str, str | None], root: str) -> set[str]:
    """Every account with ``root`` among its ancestors, found by walking up from each."""
    found = set()
    for account in parent_of:
        up, seen = parent_of[account], {account}
        while up is not None and up not in seen:
            if up == root:
                found.add(account)
                break
            seen.add(up)
            up = parent_of.get(up)
    return found


def test_under_keeps_every_account_below_a_parent_at_any_depth(
    client: TestClient,
    keys: dict[str, str],
    stored: pd.DataFrame,
    dates: list[date],
    store_url: str,
    model: HealthModel,
    model_dir: Path,
    tmp_path: Path,
) -> None:
    latest = stored[stored["as_of"] == dates[-1]]
    parent_of = dict(zip(latest["account_id"], latest["parent_id"], strict=True))
    roots = latest.loc[latest["parent_id"].isna(), "account_id"]
    below = {root: descendants(parent_of, root) for root in roots}
    root = max(below, key=lambda r: (len(below[r]), r))
    assert len(below[root]) > len(latest[latest["parent_id"] == root])  # deeper than children
    items = pages(client, keys["read"], under=root, limit=3)
    assert [i["account_id"] for i in items] == sorted(
        below[root], key=lambda a: (latest.set_index("account_id").loc[a, "health_score"], a)
    )
    leaf = next(a for a in latest["account_id"] if not descendants(parent_of, a))
    assert pages(client, keys["read"], under=leaf) == []
    assert pages(client, keys["read"], under="NO-SUCH-ACCOUNT") == []
    # a store without the account tree: the scores' own parent links give the same accounts
    url = copy_store(store_url, tmp_path)
    store = HealthStore.open(url)
    with store.engine.begin() as conn:
        conn.execute(delete(AccountHierarchy))
    settings = Settings(database_url=url, serving={"model": str(model_dir)})
    app = create_app(settings, model=LoadedModel(model, str(model_dir), "test-1"), store=store)
    with TestClient(app) as bare:
        again = pages(bare, keys["read"], under=root, limit=3)
    store.close()
    assert again == items


def test_score_change_over_n_days(
    client: TestClient, keys: dict[str, str], stored: pd.DataFrame, dates: list[date]
) -> None:
    page = client.get(
        "/v1/accounts",
        headers=auth(keys["read"]),
        params={"change_days": 30, "sort": "score_change", "max_change": -1, "limit": 500},
    ).json()
    reference = date.fromisoformat(page["reference_date"])
    assert reference == max(d for d in dates if (dates[-1] - d).days >= 30)
    then = stored[stored["as_of"] == reference].set_index("account_id")["health_score"]
    now = stored[stored["as_of"] == dates[-1]].set_index("account_id")["health_score"]
    change = (now - then).dropna()
    assert {i["account_id"] for i in page["items"]} == set(change[change <= -1].index)
    for item in page["items"]:
        assert item["score_change"] == pytest.approx(change[item["account_id"]])
    falls = [i["score_change"] for i in page["items"]]
    assert falls == sorted(falls)


@pytest.mark.parametrize(
    "params",
    [
        {"band": "excellent"},
        {"sort": "name"},
        {"limit": 0},
        {"limit": 501},
        {"min_revenue_at_risk": "nan"},
        {"cursor": "not-a-cursor"},
        {"sort": "score_change"},
        {"as_of": "yesterday"},
        {"order": "sideways"},
    ],
)
def test_unknown_query_values_are_422(
    client: TestClient, keys: dict[str, str], params: dict
) -> None:
    response = client.get("/v1/accounts", headers=auth(keys["read"]), params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_a_cursor_must_keep_its_sort(client: TestClient, keys: dict[str, str]) -> None:
    first = client.get("/v1/accounts", headers=auth(keys["read"]), params={"limit": 2}).json()
    other = client.get(
        "/v1/accounts",
        headers=auth(keys["read"]),
        params={"cursor": first["next_cursor"], "sort": "churn_probability"},
    )
    assert other.status_code == 422 and "sort" in other.json()["detail"][0]["msg"]


def test_account_detail_explains_the_change_exactly(
    client: TestClient, keys: dict[str, str], stored: pd.DataFrame, dates: list[date]
) -> None:
    account = stored[stored["as_of"] == dates[0]]["account_id"].iloc[0]
    response = client.get(
        f"/v1/accounts/{account}", headers=auth(keys["read"]), params={"since": "60d", "reasons": 4}
    )
    assert response.status_code == 200
    detail = response.json()
    own = stored[stored["account_id"] == account].sort_values("as_of")
    assert [h["as_of"] for h in detail["history"]] == [d.isoformat() for d in own["as_of"]]
    assert detail["account"]["health_score"] == own["health_score"].iloc[-1]
    change = detail["change"]
    reference = max(d for d in own["as_of"] if (own["as_of"].iloc[-1] - d).days >= 60)
    assert change["reference_date"] == reference.isoformat() and change["explained"]
    assert change["score_change"] == pytest.approx(
        own["health_score"].iloc[-1] - own.set_index("as_of")["health_score"][reference]
    )
    total = sum(r["health_points"] for r in change["reasons"])
    assert total == pytest.approx(change["explained_change"], abs=1e-9)
    # the store was scored by the served model: its change is the stored one
    assert change["explained_change"] == pytest.approx(change["score_change"], abs=1e-9)
    assert len([r for r in change["reasons"] if r["component"] != "other_measures"]) <= 4
    for reason in change["reasons"]:  # only what moved explains a move
        if reason["component"] in ("profile", "other_measures"):
            continue
        assert sum(p["health_points"] for p in reason["breakdown"]) == pytest.approx(
            reason["health_points"], abs=1e-9
        )
        for part in reason["breakdown"]:
            if part["feature"] != "other":
                assert part["value_then"] != part["value"], part


@pytest.mark.parametrize("weighting", ["count", "contract_value"])
def test_a_parents_change_is_the_sum_of_its_childrens_moves(
    client: TestClient,
    keys: dict[str, str],
    stored: pd.DataFrame,
    dates: list[date],
    weighting: str,
) -> None:
    latest = stored[stored["as_of"] == dates[-1]]
    parent = latest["parent_id"].dropna().value_counts().index[0]
    response = client.get(
        f"/v1/accounts/{parent}",
        headers=auth(keys["read"]),
        params={"since": "60d", "weighting": weighting},
    )
    assert response.status_code == 200, response.text
    change = response.json()["parent_change"]
    assert change["weighting"] == weighting
    total = sum(c["health_points"] for c in change["children"])
    assert total == pytest.approx(change["health_change"], abs=1e-9)
    for child in change["children"]:
        parts = child["band_moved"] + child["weight_moved"] + child["joined"] + child["left"]
        assert parts == pytest.approx(child["health_points"], abs=1e-12)
    rolled = client.get(
        f"/v1/accounts/{parent}/hierarchy",
        headers=auth(keys["read"]),
        params={"weighting": weighting},
    ).json()["nodes"][0]["rollup"]
    assert change["health_now"] == pytest.approx(rolled["health"], abs=1e-9)
    moved = [c for c in change["children"] if c["reasons"]]
    for child in moved:
        assert all(r["sentence"] for r in child["reasons"])


def test_account_detail_errors(client: TestClient, keys: dict[str, str]) -> None:
    headers = auth(keys["read"])
    assert client.get("/v1/accounts/nobody", headers=headers).status_code == 404
    for since in ("30", "0d", "30w", "99999d"):
        response = client.get("/v1/accounts/A000001", headers=headers, params={"since": since})
        assert response.status_code == 422, since
    too_far = client.get("/v1/accounts/A000001", headers=headers, params={"since": "3000d"})
    if too_far.status_code == 200:
        assert too_far.json()["change"]["explained"] is False
        assert too_far.json()["change"]["note"]


def test_hierarchy_matches_the_stored_roll_ups(
    client: TestClient, keys: dict[str, str], store_url: str, sample_dir, dates: list[date]
) -> None:
    tree = pd.read_parquet(sample_dir / "accounts.parquet", columns=["account_id", "parent_id"])
    roots = tree[tree["parent_id"].isna() & tree["account_id"].isin(tree["parent_id"])]
    depth_of = {}
    for root in roots["account_id"]:
        level, d = [root], 0
        while level:
            for a in level:
                depth_of.setdefault(root, {})[a] = d
            level = list(tree.loc[tree["parent_id"].isin(level), "account_id"])
            d += 1
    root = max(depth_of, key=lambda r: (max(depth_of[r].values()), len(depth_of[r])))
    store = HealthStore.open(store_url)
    with store.session() as session:
        rolled = {
            r.parent_id: r
            for r in session.scalars(
                select(ParentHealth).where(
                    ParentHealth.as_of == dates[-1], ParentHealth.weighting == "contract_value"
                )
            )
        }
    store.close()
    response = client.get(
        f"/v1/accounts/{root}/hierarchy",
        headers=auth(keys["read"]),
        params={"weighting": "contract_value"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["weighting"] == "contract_value" and body["as_of"] == dates[-1].isoformat()
    nodes = {n["account_id"]: n for n in body["nodes"]}
    assert {a: n["depth"] for a, n in nodes.items()} == depth_of[root]
    seen = set()
    for node in body["nodes"]:  # parents before children
        assert node["parent_id"] is None or node["parent_id"] in seen or node["account_id"] == root
        seen.add(node["account_id"])
        if node["account_id"] in rolled:
            row = rolled[node["account_id"]]
            assert node["rollup"]["health"] == pytest.approx(row.health)
            assert node["rollup"]["revenue_at_risk"] == pytest.approx(row.revenue_at_risk)
            assert [d["child_id"] for d in node["rollup"]["pulling_down"]] == [
                d["child_id"] for d in row.pulling_down
            ]
    assert nodes[root]["rollup"] is not None


def test_hierarchy_errors(client: TestClient, keys: dict[str, str]) -> None:
    headers = auth(keys["read"])
    assert client.get("/v1/accounts/nobody/hierarchy", headers=headers).status_code == 404
    bad = client.get(
        "/v1/accounts/A000001/hierarchy", headers=headers, params={"weighting": "revenue"}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "weighting"]
