"""End to end: headless Chromium against `paperfeed serve` with the seed corpus imported.

Browses daily/weekly/monthly lists and navigates dates, searches, opens a paper,
signs up, upvotes (the count changes without a reload), submits a paper, signs
out and opens the API docs. Screenshots of every step go to test-artifacts/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEEDS
from tests.e2e.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.web.server import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    """`paperfeed serve` on a free port over the test database, seeds imported first."""
    if not Path(CHROMIUM).exists() or not SEEDS:
        pytest.skip("needs /usr/bin/chromium and the seed pages")
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": db_url,
        "PAPERFEED_SECRET_KEY": "e2e-secret-key",
        "PAPERFEED_HOME": str(tmp_path / "home"),
        "PAPERFEED_SCHEDULER": "false",
    }
    cli = [sys.executable, "-m", "paperfeed"]
    subprocess.run(
        [*cli, "ingest", "listing", *map(str, SEEDS), "--listing-year", "2025"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError((tmp_path / "serve.log").read_text()[-3000:])
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.fixture
def page(server: str):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if msg.type == "error" else None,
        )
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()
    assert not errors, f"browser errors: {errors}"


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"e2e-{name}.png"), full_page=True)


def test_browse_search_sign_up_vote_submit_sign_out(page):
    from playwright.sync_api import expect

    # Home: the newest day, with daily/weekly/monthly tabs and date navigation.
    page.goto("/")
    assert page.locator("h1").inner_text() == "Daily Papers"
    first_day = page.locator(".period-label").inner_text()
    assert page.locator(".paper-card").count() >= 1
    shot(page, "01-daily")

    page.click("#prev-period")
    page.wait_for_url("**date=*")
    assert page.locator(".period-label").inner_text() != first_day
    shot(page, "02-daily-previous")

    page.click("a.tab:has-text('Weekly')")
    page.wait_for_url("**period=weekly*")
    assert page.locator(".period-label").inner_text().startswith("Week ")
    page.click("a.tab:has-text('Monthly')")
    page.wait_for_url("**period=monthly*")
    shot(page, "03-monthly")

    # The date picker submits itself when a date is chosen.
    page.fill("#date-input", "2023-10-15")
    page.wait_for_url("**date=2023-10-15*")
    assert page.locator(".period-label").inner_text() == "October 2023"
    assert page.locator(".paper-card").count() >= 5
    shot(page, "04-date-picker")

    # Search from the header box; matches are highlighted.
    page.fill(".header-search input", "quantization")
    page.press(".header-search input", "Enter")
    page.wait_for_url("**/search?q=quantization*")
    assert page.locator(".search-results .paper-card").count() >= 1
    assert page.locator(".snippet mark, .paper-title mark").count() >= 1
    shot(page, "05-search")

    # Open a paper: abstract, sources, BibTeX, similar papers.
    title = page.locator(".search-results .paper-title a").first.inner_text()
    page.locator(".search-results .paper-title a").first.click()
    page.wait_for_url("**/papers/*")
    assert page.locator("h1").inner_text() == title
    assert page.locator("#bibtex").inner_text().startswith("@misc{")
    assert page.locator("text=Seen in").count() == 1
    shot(page, "06-paper")
    paper_url = page.url

    # Sign up, come back, upvote without a reload.
    page.click("text=Sign up")
    page.fill("input[name=email]", "e2e@example.org")
    page.fill("input[name=display_name]", "Tester")
    page.fill("input[name=password]", "a good password")
    page.click("button:has-text('Sign up')")
    page.wait_for_url("**/")
    assert page.locator(".user-link").inner_text() == "Tester"
    page.goto(paper_url)
    count = int(page.locator(".paper-header .vote-count").inner_text())
    page.evaluate("window.__noReload = true")
    page.click(".paper-header .vote-button")
    expect(page.locator(".paper-header .vote-count")).to_have_text(str(count + 1))
    assert page.evaluate("window.__noReload") is True
    assert page.locator(".paper-header .vote-button").get_attribute("aria-pressed") == "true"
    shot(page, "07-upvoted")
    page.reload()
    assert int(page.locator(".paper-header .vote-count").inner_text()) == count + 1
    page.click(".paper-header .vote-button")  # and take it back
    expect(page.locator(".paper-header .vote-count")).to_have_text(str(count))

    # Submit a paper with the form.
    page.click("nav >> text=Submit")
    page.fill("#submit-form input[name=title]", "An end-to-end tested paper")
    page.fill("#submit-form input[name=authors]", "Ada Lovelace, Alan Turing")
    page.fill("#submit-form textarea[name=abstract]", "We test a web application end to end.")
    page.click("#submit-form button")
    assert page.locator(".flash").inner_text().startswith("Thank you!")
    shot(page, "08-submitted")
    page.click(".flash a")
    assert page.locator("h1").inner_text() == "An end-to-end tested paper"

    # Sign out.
    page.click("#signout")
    page.wait_for_url("**/")
    assert page.locator("text=Sign in").count() >= 1
    shot(page, "09-signed-out")

    # The API docs render offline under the strict CSP.
    page.goto("/api/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 9
    shot(page, "10-api-docs")
