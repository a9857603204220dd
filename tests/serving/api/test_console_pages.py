"""The console's pages over the filled store: sign-in and sessions, the worklist, an account,
the hierarchy and the model page (HTML read with a regular expression, not a browser: the
browser tests are in ``test_console_browser.py``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import matplotlib.pyplot as plt
import mlflow
import pytest
import sqlalchemy as sa
from apikit import auth, copy_store
from fastapi.testclient import TestClient

from vitals.config.settings import Settings
from vitals.models.health_model import HealthModel
from vitals.serving.api.app import create_app
from vitals.serving.api.auth import create_key, revoke_key
from vitals.serving.batch import LoadedModel
from vitals.serving.console.session import COOKIE
from vitals.serving.store import HealthStore

ROW = re.compile(r'<th scope="row"><a href="/console/accounts/([^"]+)">')
PAGES = ["/console", "/console/accounts/A000001", "/console/hierarchy", "/console/model"]


def signed_in(client: TestClient, key: str) -> TestClient:
    answer = client.post(
        "/console/login", data={"key": key, "next": "/console"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return client


def worklist_ids(client: TestClient, **params: object) -> list[str]:
    """Every account of a console worklist, following its "load more" links."""
    ids: list[str] = []
    url: str | None = "/console"
    query: dict[str, object] | None = params
    while url:
        page = client.get(url, params=query, headers={"HX-Request": "true"} if ids else {})
        assert page.status_code == 200, page.text
        ids += ROW.findall(page.text)
        more = re.search(r'hx-get="([^"]+)"[^>]*hx-target="#more"', page.text)
        url, query = (more.group(1).replace("&amp;", "&"), None) if more else (None, None)
    return ids


def api_ids(client: TestClient, key: str, **params: object) -> list[str]:
    ids, cursor = [], None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/accounts", headers=auth(key), params=query).json()
        ids += [item["account_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


@pytest.fixture
def browser(client: TestClient) -> Iterator[TestClient]:
    """The module's client with no session (cookies cleared before and after)."""
    client.cookies.clear()
    yield client
    client.cookies.clear()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_visitor_without_a_session_to_sign_in(
    browser: TestClient, path: str
) -> None:
    answer = browser.get(path, follow_redirects=False)
    assert answer.status_code == 303
    location = urlsplit(answer.headers["location"])
    assert location.path == "/console/login"
    assert parse_qs(location.query)["next"] == [path]
    htmx = browser.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["HX-Redirect"].startswith("/console/login?next=")


def test_a_wrong_key_or_one_without_read_scope_is_refused(
    browser: TestClient, keys: dict[str, str]
) -> None:
    wrong = browser.post("/console/login", data={"key": "vk_nope_nope"}, follow_redirects=False)
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
    predict_only = browser.post("/console/login", data={"key": keys["predict"]})
    assert predict_only.status_code == 401 and "lacks read scope" in predict_only.text
    assert COOKIE not in browser.cookies
    assert browser.get("/console", follow_redirects=False).status_code == 303


def test_signing_in_returns_to_the_page_asked_for_and_never_to_another_site(
    browser: TestClient, keys: dict[str, str]
) -> None:
    back = browser.post(
        "/console/login",
        data={"key": keys["read"], "next": "/console/model"},
        follow_redirects=False,
    )
    assert back.headers["location"] == "/console/model"
    assert "httponly" in back.headers["set-cookie"].lower()
    assert "samesite=lax" in back.headers["set-cookie"].lower()
    away = browser.post(
        "/console/login",
        data={"key": keys["read"], "next": "https://evil.example/console"},
        follow_redirects=False,
    )
    assert away.headers["location"] == "/console"


def test_a_tampered_cookie_and_signing_out_end_the_session(
    browser: TestClient, keys: dict[str, str]
) -> None:
    signed_in(browser, keys["read"])
    assert browser.get("/console").status_code == 200
    cookie = browser.cookies[COOKIE]
    browser.cookies.set(COOKIE, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert browser.get("/console", follow_redirects=False).status_code == 303
    signed_in(browser, keys["read"])
    browser.post("/console/logout")
    assert browser.get("/console", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_sessions(
    store_url: str, model: HealthModel, model_dir: Path
) -> None:
    store = HealthStore.open(store_url)
    key = create_key(store, ["read"], "revoked in a test")
    settings = Settings(
        database_url=store_url,
        serving={"model": str(model_dir), "key_cache_seconds": 0},
    )
    app = create_app(settings, model=LoadedModel(model, str(model_dir), "test-1"), store=store)
    with TestClient(app) as client:
        signed_in(client, key.key)
        assert client.get("/console").status_code == 200
        revoke_key(store, key.info.id)
        assert client.get("/console", follow_redirects=False).status_code == 303
    store.close()


def test_the_worklist_pages_through_the_same_accounts_as_the_api(
    browser: TestClient, keys: dict[str, str]
) -> None:
    signed_in(browser, keys["read"])
    listed = worklist_ids(browser)  # highest churn risk first
    assert listed == api_ids(browser, keys["read"], sort="churn_probability")
    assert len(listed) > 50  # more than one page of the default size
    for sort in ("revenue_at_risk", "renewal_revenue_at_risk"):
        chosen = worklist_ids(browser, sort=sort, band=["poor", "average"])
        assert chosen == api_ids(browser, keys["read"], sort=sort, band=["poor", "average"])
    fell = worklist_ids(browser, fell=2, sort="score_change")
    assert fell == api_ids(
        browser, keys["read"], change_days=30, max_change=-2, sort="score_change"
    )
    assert fell  # the sample data has accounts that fell


def test_the_worklist_filters_by_profile_and_by_everything_under_a_parent(
    browser: TestClient, keys: dict[str, str]
) -> None:
    signed_in(browser, keys["read"])
    everyone = browser.get("/v1/accounts", headers=auth(keys["read"]), params={"limit": 500})
    profile = everyone.json()["items"][0]["profile"]
    in_profile = worklist_ids(browser, profile=profile)
    assert in_profile and in_profile == api_ids(
        browser, keys["read"], sort="churn_probability", profile=profile
    )
    assert len(in_profile) < len(worklist_ids(browser))
    # the parent whose tree is deepest: its grandchildren must be listed too
    index = browser.get("/console/hierarchy").text
    roots = re.findall(r'<a href="/console/hierarchy/([^"]+)">', index)
    trees = {
        root: browser.get(f"/v1/accounts/{root}/hierarchy", headers=auth(keys["read"])).json()[
            "nodes"
        ]
        for root in roots
    }
    root, nodes = max(trees.items(), key=lambda t: max(n["depth"] for n in t[1]))
    assert max(n["depth"] for n in nodes) >= 2
    below = {n["account_id"] for n in nodes if n["depth"] >= 1 and n["scored"]}
    under = worklist_ids(browser, parent=root)
    assert set(under) == below and len(under) == len(below)
    assert under == api_ids(browser, keys["read"], sort="churn_probability", under=root)
    children = set(api_ids(browser, keys["read"], parent=root))
    assert children < set(under)  # the API's parent filter keeps direct children only


def test_worklist_rows_show_health_band_sparkline_revenue_and_top_reason(
    browser: TestClient, keys: dict[str, str]
) -> None:
    signed_in(browser, keys["read"])
    first = browser.get(
        "/v1/accounts",
        headers=auth(keys["read"]),
        params={"limit": 1, "sort": "churn_probability"},
    ).json()
    item = first["items"][0]
    page = browser.get("/console").text
    row = page[page.index(f'/console/accounts/{item["account_id"]}"') :].split("</tr>")[0]
    assert f"band-{item['band']}" in row and f">{item['band']}</span>" in row
    assert f">{item['health_score']:.0f}<" in row
    assert '<svg class="spark"' in row and "scores)" in row
    assert f"{item['revenue_at_risk']:,.0f}" in row
    assert f'<td class="num risk">{100 * item["churn_probability"]:.0f}%</td>' in row
    lowering = [r for r in item["reasons"] if r["health_points"] < 0]
    worst = min(lowering, key=lambda r: r["health_points"])
    assert worst["sentence"] in row.replace("&#39;", "'")


def test_a_bad_filter_or_cursor_is_a_client_error(
    browser: TestClient, keys: dict[str, str]
) -> None:
    signed_in(browser, keys["read"])
    assert browser.get("/console", params={"sort": "nonsense"}).status_code == 422
    assert browser.get("/console", params={"band": "purple"}).status_code == 422
    assert browser.get("/console", params={"cursor": "not-a-cursor"}).status_code == 422
    assert browser.get("/console", params={"fell": "-3"}).status_code == 422
    assert browser.get("/console", params={"fell": "lots"}).status_code == 422
    assert browser.get("/console", params={"fell": "", "parent": ""}).status_code == 200


def test_the_account_page_shows_the_reasons_of_the_score_and_of_its_change(
    browser: TestClient, keys: dict[str, str], model: HealthModel
) -> None:
    signed_in(browser, keys["read"])
    items = browser.get("/v1/accounts", headers=auth(keys["read"]), params={"limit": 5}).json()
    account = items["items"][0]["account_id"]
    detail = browser.get(f"/v1/accounts/{account}", headers=auth(keys["read"])).json()
    page = browser.get(f"/console/accounts/{account}").text.replace("&#39;", "'")
    for reason in detail["account"]["reasons"]:
        assert reason["sentence"] in page
    for reason in detail["change"]["reasons"]:
        assert reason["sentence"] in page
    for step in detail["account"]["next_steps"]:
        assert step["action"] in page
    chart = json.loads(re.search(r"data-chart='([^']+)'", page).group(1).replace("&#34;", '"'))
    assert chart["series"]["health"] == [round(h["health_score"], 2) for h in detail["history"]]
    # the band thresholds of the account's profile, as flat lines over the history
    bands = model.profiles_[detail["account"]["profile"]].bands
    points = len(detail["history"])
    assert chart["series"]["good from"] == [bands.good] * points
    assert chart["series"]["poor below"] == [bands.poor] * points
    assert "Recent tickets and survey answers" in page
    missing = browser.get("/console/accounts/NO-SUCH-ACCOUNT")
    assert missing.status_code == 404 and "No scores for account NO-SUCH-ACCOUNT" in missing.text


def test_the_hierarchy_toggles_between_count_and_contract_value_weighting(
    browser: TestClient, keys: dict[str, str]
) -> None:
    signed_in(browser, keys["read"])
    index = browser.get("/console/hierarchy").text
    parent = re.search(r'<a href="/console/hierarchy/([^"]+)">', index).group(1)
    for weighting in ("count", "contract_value"):
        tree = browser.get(
            f"/v1/accounts/{parent}/hierarchy",
            headers=auth(keys["read"]),
            params={"weighting": weighting},
        ).json()
        page = browser.get(f"/console/hierarchy/{parent}", params={"weighting": weighting}).text
        assert f'data-weighting="{weighting}"' in page
        rolled = re.findall(r'<td class="rolled">([^<]*)</td>', page)
        expected = [
            f"{n['rollup']['health']:.0f}"
            if n["rollup"] and n["rollup"]["health"] is not None
            else ""
            for n in tree["nodes"]
        ]
        assert [r.strip() for r in rolled] == expected
    partial = browser.get(
        f"/console/hierarchy/{parent}", params={"weighting": "count"}, headers={"HX-Request": "1"}
    ).text
    assert "<html" not in partial and 'aria-pressed="true"' in partial


def test_the_model_page_shows_the_runs_report_and_plots(
    store_url: str, model: HealthModel, model_dir: Path, keys: dict[str, str], tmp_path: Path
) -> None:
    report = {
        "test_window": {"start": "2025-10-01", "end": "2025-12-01", "snapshots": 900,
                        "churners": 45},
        "models": {
            "vitals": {"overall": {"auc": 0.812, "brier": 0.041}},
            "rules": {"overall": {"auc": 0.701, "brier": 0.05}},
        },
    }  # fmt: skip
    figure, axes = plt.subplots(figsize=(2, 2))
    axes.plot([0, 1], [0, 1])
    figure.savefig(tmp_path / "roc.png")
    plt.close(figure)
    png = (tmp_path / "roc.png").read_bytes()
    # artifacts beside the test's store (MLflow's default would be ./mlruns of the checkout)
    experiment = mlflow.create_experiment("console", artifact_location=(tmp_path / "runs").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_dict(report, "report.json")
        mlflow.log_artifact(str(tmp_path / "roc.png"), "plots")
    tracked = HealthModel.load(model_dir)
    tracked.metadata_["mlflow_run_id"] = run.info.run_id
    store = HealthStore.open(store_url)
    settings = Settings(database_url=store_url, serving={"model": str(model_dir)})
    app = create_app(settings, model=LoadedModel(tracked, str(model_dir), "test-1"), store=store)
    with TestClient(app) as client:
        signed_in(client, keys["read"])
        page = client.get("/console/model").text
        assert "0.812" in page and "0.701" in page and run.info.run_id in page
        assert '<img src="/console/model/plots/roc.png"' in page
        assert "reliability.png" not in page  # not logged: not shown
        plot = client.get("/console/model/plots/roc.png")
        assert plot.status_code == 200 and plot.content == png
        assert client.get("/console/model/plots/lift.png").status_code == 404
    store.close()


def test_the_account_page_shows_the_curve_the_renewal_and_the_place_in_the_hierarchy(
    store_url: str, model: HealthModel, model_dir: Path, keys: dict[str, str], tmp_path: Path
) -> None:
    # the fixture's model has no risk curve: give one child account's latest score a curve, in
    # a copy of the store, as a model with the survival pieces stores it
    url = copy_store(store_url, tmp_path)
    store = HealthStore.open(url)
    risks = {"risk_30d": 0.04, "risk_90d": 0.11, "risk_180d": 0.2, "risk_365d": 0.33}
    with store.engine.begin() as conn:
        account, as_of, days = conn.execute(
            sa.text(
                "SELECT account_id, as_of, days_to_renewal FROM health_scores "
                "WHERE parent_id IS NOT NULL AND days_to_renewal BETWEEN 1 AND 365 "
                "AND as_of = (SELECT max(as_of) FROM health_scores) ORDER BY account_id LIMIT 1"
            )
        ).one()
        conn.execute(
            sa.text(
                "UPDATE health_scores SET risk_30d = :risk_30d, risk_90d = :risk_90d, "
                "risk_180d = :risk_180d, risk_365d = :risk_365d "
                "WHERE account_id = :account AND as_of = :as_of"
            ),
            {**risks, "account": account, "as_of": as_of},
        )
    settings = Settings(database_url=url, serving={"model": str(model_dir)})
    app = create_app(settings, model=LoadedModel(model, str(model_dir), "test-1"), store=store)
    with TestClient(app) as client:
        signed_in(client, keys["read"])
        scored = client.get(f"/v1/accounts/{account}", headers=auth(keys["read"])).json()
        page = client.get(f"/console/accounts/{account}").text
    store.close()
    curve = re.search(r'id="survival-h".*?data-chart=\'([^\']+)\'', page, re.S)
    assert curve is not None, "no survival chart on the account page"
    chart = json.loads(curve.group(1).replace("&#34;", '"'))
    assert chart["series"]["x"] == [0, 30, 90, 180, 365]
    assert chart["series"]["still a customer"] == [1.0] + [round(1 - r, 4) for r in risks.values()]
    assert chart["marker"]["x"] == days
    renewal = date.fromisoformat(str(as_of)[:10]) + timedelta(days=round(days))
    assert f"Next renewal: <strong>{renewal.isoformat()}</strong>" in page
    parent = scored["account"]["parent_id"]
    place = page[page.index('id="place-h"') :]
    assert f'Part of <a href="/console/accounts/{parent}">{parent}</a>' in place
    start = page.index('class="crumbs"')
    crumbs = page[start : page.index("</nav>", start)]
    assert f'href="/console/accounts/{parent}"' in crumbs
