"""The console in a real browser: Debian's Chromium, headless, driven by Playwright.

A real server (uvicorn, on a free port of 127.0.0.1) serves the filled store. Screenshots of
each page land in ``tests/artifacts/``. Without Chromium the tests are skipped, except in CI
(``CI`` set), where ``scripts/test.sh`` installs it and a missing browser fails them.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from vitals.config.settings import Settings
from vitals.models.health_model import HealthModel
from vitals.serving.api.app import create_app
from vitals.serving.batch import LoadedModel
from vitals.serving.store import HealthStore

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = os.environ.get("VITALS_CHROMIUM", "/usr/bin/chromium")
# no first-run, sync or update traffic: this machine's network is closed
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(
    store_url: str,
    model: HealthModel,
    model_dir: Path,
    sample_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The app on a real port, reading tickets and surveys from the sample data."""
    store = HealthStore.open(store_url)
    settings = Settings(
        database_url=store_url,
        serving={"model": str(model_dir)},
        ingest={
            "data_dir": str(sample_dir),
            "store_dir": str(tmp_path_factory.mktemp("ingested")),
            "rescore_in_server": False,
        },
        console={"page_size": 25},
    )
    app = create_app(settings, model=LoadedModel(model, str(model_dir), "test-1"), store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        reason = f"no Chromium at {CHROMIUM}: scripts/test.sh installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], f"the page's scripts failed: {errors}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def sign_in(page: Page, server: str, key: str, path: str = "/console") -> None:
    page.goto(server + path)
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("API key").fill(key)
    page.get_by_label("API key").press("Enter")  # by keyboard


def test_a_page_without_a_session_redirects_and_a_wrong_key_is_refused(
    page: Page, server: str, keys: dict[str, str]
) -> None:
    sign_in(page, server, "vk_0000_wrong", "/console/model")
    expect(page.get_by_role("alert")).to_have_text("That key is unknown or revoked.")
    expect(page).to_have_url(server + "/console/login")
    shot(page, "console-sign-in-refused")
    page.get_by_label("API key").fill(keys["read"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server + "/console/model")  # back where the visitor was going


def test_sign_in_filter_page_and_open_an_account(
    page: Page, server: str, keys: dict[str, str]
) -> None:
    sign_in(page, server, keys["read"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("Worklist")
    rows = page.locator("table.worklist tbody tr:not(#more)")
    expect(rows).to_have_count(25)
    shot(page, "console-worklist")

    more = page.get_by_role("link", name="Load more accounts")
    more.focus()
    more.press("Enter")  # htmx appends the next page in place
    expect(rows).to_have_count(50)
    expect(page).to_have_url(server + "/console")  # no full navigation

    page.get_by_label("poor").check()
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"band=poor"))
    bands = page.locator("table.worklist tbody td.health .band")
    assert bands.count() > 0
    assert set(bands.all_inner_texts()) == {"poor"}
    shot(page, "console-worklist-poor")

    first = page.locator("table.worklist tbody th a").first
    account = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(account)
    reasons = page.locator("section[aria-labelledby=reasons-h] ol.reasons li")
    assert reasons.count() > 0
    expect(page.locator("#change")).to_contain_text("What changed")
    expect(page.locator(".chart-area canvas").first).to_be_visible()  # uPlot drew the history
    shot(page, "console-account")
    page.get_by_role("link", name="since 90 days ago").click()
    expect(page).to_have_url(re.compile(r"since=90"))


def test_the_hierarchy_weighting_toggle(page: Page, server: str, keys: dict[str, str]) -> None:
    sign_in(page, server, keys["read"], "/console/hierarchy")
    link = page.locator("table tbody th a").first
    parent = link.inner_text()
    link.click()
    tree = page.locator("table.tree")
    expect(tree).to_have_attribute("data-weighting", "count")
    assert rolled_up(page) == api_rolled_up(page, server, keys["read"], parent, "count")
    toggle = page.get_by_role("button", name="Weighted by contract value")
    toggle.focus()
    toggle.press("Enter")  # by keyboard; htmx swaps the tree in place
    expect(tree).to_have_attribute("data-weighting", "contract_value")
    expect(page).to_have_url(re.compile(r"weighting=contract_value"))
    expect(page.get_by_role("button", name="Weighted by contract value")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("table.tree caption")).to_contain_text("weighted by contract value")
    assert rolled_up(page) == api_rolled_up(page, server, keys["read"], parent, "contract_value")
    shot(page, "console-hierarchy")


def rolled_up(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("table.tree td.rolled").all_inner_texts()]


def api_rolled_up(page: Page, server: str, key: str, parent: str, weighting: str) -> list[str]:
    """The rolled-up health per node of the JSON API's tree, as the console rounds it."""
    tree = page.request.get(
        f"{server}/v1/accounts/{parent}/hierarchy",
        params={"weighting": weighting},
        headers={"X-API-Key": key},
    ).json()
    return [
        f"{n['rollup']['health']:.0f}" if n["rollup"] and n["rollup"]["health"] is not None else ""
        for n in tree["nodes"]
    ]
