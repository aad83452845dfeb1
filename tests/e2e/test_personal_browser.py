"""End to end, personal layer: headless Chromium against the real app over the seed corpus.

Signs up, starts the for-you feed from a topic, saves papers and sees the feed
and its reasons change, marks one "not interested", opens the topic map (hover
title, click through) and a topic's trend chart. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfeed.app import Paperfeed
from paperfeed.web import create_app
from tests.conftest import SEEDS
from tests.e2e.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.web.server import running

pytestmark = pytest.mark.e2e


@pytest.fixture
def base_url(settings, db_url: str, tmp_path: Path) -> Iterator[str]:
    """The app over the seed corpus, embedded (real MiniLM) and clustered."""
    if not Path(CHROMIUM).exists() or not SEEDS:
        pytest.skip("needs /usr/bin/chromium and the seed pages")
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": db_url,
        "PAPERFEED_SECRET_KEY": "e2e-secret-key",
        "PAPERFEED_HOME": str(tmp_path / "h"),
        "PAPERFEED_SCHEDULER": "false",
        "HF_HUB_OFFLINE": "1",
    }
    cli = [sys.executable, "-m", "paperfeed"]
    for command in (
        ["ingest", "listing", *map(str, SEEDS), "--listing-year", "2024"],
        ["embed"],
        ["topics", "build"],
    ):
        subprocess.run([*cli, *command], env=env, check=True, capture_output=True, timeout=600)
    with Paperfeed(settings) as pf, running(create_app(pf)) as url:
        yield url


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"personal-{name}.png"), full_page=True)


def _picks(page) -> list[str]:
    return page.locator("#picks .pf-pick").evaluate_all(
        "els => els.map(e => e.getAttribute('data-paper-id'))"
    )


def test_save_papers_see_the_feed_change_and_browse_the_topic_map(base_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 900})
        page.goto("/signup")
        page.fill("input[name=email]", "reader@example.org")
        page.fill("input[name=password]", "a good password")
        page.click("main button[type=submit]")

        # Cold start: no library yet, so the page offers the topic map's topics.
        page.goto("/for-you")
        assert page.locator("#cold-start").is_visible()
        _shot(page, "1-cold-start")
        page.locator(".pf-topic-choice input").first.check()
        page.click("text=Use these topics")
        page.goto("/for-you?window=all")
        before = _picks(page)
        assert len(before) >= 10
        assert "in your topic" in page.locator(".pf-reason").first.inner_text().lower()
        _shot(page, "2-topic-feed")

        # Save two papers from further down the feed, in place (no reload, the
        # scroll position kept); on its next load the feed re-centres on them.
        saved_titles, saved_ids = [], []
        page.evaluate("window.__noReload = true")
        for index in (5, 3):
            pid = _picks(page)[index]
            saved_ids.append(pid)
            saved_titles.append(page.locator(f"#paper-{pid} .paper-title").inner_text())
            button = page.locator(f'.pf-pick[data-paper-id="{pid}"] button.save-button')
            button.scroll_into_view_if_needed()
            scrolled = page.evaluate("window.scrollY")
            button.click()
            expect(button).to_have_text("★ Saved")
            expect(button).to_have_attribute("aria-pressed", "true")
            assert abs(page.evaluate("window.scrollY") - scrolled) < 5
        assert page.evaluate("window.__noReload") is True
        page.reload()
        after = _picks(page)
        assert not set(saved_ids) & set(after)
        assert after != before
        reasons = page.locator(".pf-reason").all_inner_texts()
        assert any("in your library" in r and any(t in r for t in saved_titles) for r in reasons)
        _shot(page, "3-after-saving")

        # "Not interested" removes the paper at once.
        first = after[0]
        page.locator(f'.pf-pick[data-paper-id="{first}"] button.pf-not-interested').click()
        page.wait_for_load_state()
        assert first not in _picks(page)

        page.goto("/library")
        assert page.locator(".paper-card").count() == 2
        _shot(page, "4-library")

        # The topic map: dots carry the title on hover and link to the paper.
        page.goto("/topics")
        dots = page.locator("#topic-map circle")
        assert dots.count() >= 200
        page.locator("#topic-map").scroll_into_view_if_needed()
        # A dot no label or header covers (elementFromPoint is what a pointer would hit).
        index = dots.evaluate_all(
            """els => els.findIndex(e => {
                 const r = e.getBoundingClientRect();
                 return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === e;
               })"""
        )
        assert index >= 0
        dot = dots.nth(index)
        title = dot.locator("title").text_content()
        assert title
        dot.hover()
        _shot(page, "5-topic-map")
        dot.click()
        page.wait_for_url("**/papers/*")
        assert title.strip()[:40] in page.content()

        page.goto("/topics")
        page.locator(".pf-topic-list a").first.click()
        page.wait_for_url("**/topics/*")
        assert page.locator("#trend-chart rect.pf-bar").count() >= 4
        _shot(page, "6-trend-chart")
        browser.close()
