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
from apikit import annotated_app
from playwright.sync_api import Browser, Page, expect, sync_playwright

from vitals.models.health_model import HealthModel

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
    """The app on a real port over a copy of the filled store (the tests add overrides), reading
    tickets, surveys and ratings from the sample data and ingesting new ratings beside it."""
    folder = tmp_path_factory.mktemp("browser")
    settings = {"console": {"page_size": 25}}
    with annotated_app(store_url, model, model_dir, sample_dir, folder, **settings) as app:
        port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True
        thread.join(timeout=10)


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
    toggle.press(" ")  # by keyboard (Space, as for any button); htmx swaps the tree in place
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


def test_a_csm_rates_an_account_and_overrides_its_band(
    page: Page, server: str, keys: dict[str, str]
) -> None:
    sign_in(page, server, keys["admin"])  # read and annotate
    page.locator("table.worklist tbody th a").first.click()
    model_band = page.locator("h1 .band").inner_text()
    people = page.locator("#people")
    people.get_by_label("red").check()
    people.get_by_label("Note").fill("Champion left in May")
    people.get_by_role("button", name="Save rating").click()
    expect(page.get_by_role("status")).to_have_text("Rating red saved.")
    expect(people.locator("table")).to_contain_text("Champion left in May")
    expect(people.locator("table tbody tr").first).to_contain_text("test admin")

    other = next(b for b in ("good", "average", "poor") if b != model_band)
    people.get_by_label("Override the band to").select_option(other)
    people.get_by_label("Reason").fill("Budget freeze announced at the QBR")
    people.get_by_label("Reason").press("Enter")  # by keyboard
    expect(page.get_by_role("status")).to_contain_text(f"Band overridden to {other}")
    expect(page.locator("h1 .override")).to_have_text(f"✎ override: {other}")
    expect(page.locator("h1 .band")).to_have_text(model_band)  # the model's band stays
    expect(page.locator(".override-note")).to_contain_text("Budget freeze announced at the QBR")
    shot(page, "console-account-people")

    page.get_by_role("link", name="Worklist").click()
    expect(page.locator("table.worklist .override").first).to_have_text(f"✎ override: {other}")


def test_a_read_only_key_sees_no_forms(page: Page, server: str, keys: dict[str, str]) -> None:
    sign_in(page, server, keys["read"])
    page.locator("table.worklist tbody th a").first.click()
    expect(page.locator("#people")).to_contain_text("needs a key with the annotate scope")
    expect(page.get_by_role("button", name="Save rating")).to_have_count(0)
