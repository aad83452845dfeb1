"""What a daily reader does, in Chromium against `paperfeed serve`: follow a list by
RSS or email, save without losing their place, vote with errors shown in the page,
keyboard shortcuts, and dark mode.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Site, shot, sign_up

pytestmark = pytest.mark.e2e


def _rgb(page, selector: str, prop: str = "background-color") -> tuple[int, ...]:
    value = page.eval_on_selector(selector, f"e => getComputedStyle(e).getPropertyValue('{prop}')")
    return tuple(
        int(float(x)) for x in value[value.index("(") + 1 : value.index(")")].split(",")[:3]
    )


def test_rss_and_email_buttons_on_list_search_organisation_and_topic_pages(
    site: Site, open_page
) -> None:
    page = open_page()
    topic = httpx.get(site.url + "/api/topics").json()["topics"][0]["id"]
    for path in [
        "/",
        "/?period=weekly",
        "/trending",
        "/search?q=quantization",
        "/orgs",
        f"/topics/{topic}",
    ]:
        page.goto(path)
        if path == "/orgs":  # the first organisation's own page
            page.locator(".org-list a").first.click()
            page.wait_for_url("**/orgs/*")
        rss = page.locator(".follow-buttons .feed-button")
        assert rss.count() == 1, path
        feed = httpx.get(site.url + rss.get_attribute("href"))
        assert feed.status_code == 200 and "<rss" in feed.text and "<item>" in feed.text, path
        assert page.locator(".follow-buttons .email-button").count() == 1, path

    # Signed out, "Email me" on a search opens the pre-filled form; double opt-in follows.
    page.goto("/search?q=quantization")
    page.click(".email-button")
    page.wait_for_url("**/subscribe?kind=search*")
    assert "quantization" in page.locator("main").inner_text()
    assert page.locator("main input[name=q]").input_value() == "quantization"
    page.fill("main input[name=email]", "follower@example.org")
    page.click("main button[type=submit]")
    assert "Check your inbox" in page.locator("h1").inner_text()
    page.goto(site.link_in_mail("follower@example.org", "/subscriptions/confirm/"))
    page.click("main button[type=submit]")
    assert page.locator("h1").inner_text() == "Subscribed"

    # Signed in, the form already has the account's address.
    sign_up(page, "follow-signed-in@example.org")
    page.goto(f"/topics/{topic}")
    page.click(".email-button")
    assert page.locator("main input[name=email]").input_value() == "follow-signed-in@example.org"
    shot(page, "email-me-form")


def test_save_keeps_the_scroll_position_and_errors_show_in_the_page(site: Site, open_page) -> None:
    page = open_page()
    sign_up(page, "saver@example.org")
    page.goto("/?period=monthly&date=2023-10-15")
    cards = page.locator(".paper-card")
    assert cards.count() >= 8
    target = cards.nth(7)
    target.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    assert before > 300
    page.evaluate("window.__noReload = true")
    button = target.locator(".save-button")
    button.click()
    expect(button).to_have_text("★ Saved")
    expect(button).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.__noReload") is True
    assert abs(page.evaluate("window.scrollY") - before) < 5
    paper_id = target.get_attribute("id").removeprefix("paper-")
    page.goto("/library")
    assert page.locator(f"#paper-{paper_id}").count() == 1
    # Not interested is not offered for a saved paper.
    assert page.locator(".pf-item-extra .pf-not-interested").count() == 0
    page.locator(".save-button").first.click()  # unsave in place
    expect(page.locator(".save-button").first).to_have_text("☆ Save")

    # A vote the server refuses (a paper id it does not know) shows why, in the page.
    page.goto("/?period=monthly&date=2023-10-15")
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    page.eval_on_selector(".paper-card .vote-button", "b => b.dataset.paperId = '999999999'")
    page.locator(".paper-card .vote-button").first.click()
    error = page.locator(".paper-card .inline-error").first
    expect(error).to_contain_text("There is no paper with this id")
    assert error.get_attribute("role") == "alert"
    assert not dialogs
    shot(page, "inline-vote-error")


def test_keyboard_shortcuts_move_save_upvote_and_search(site: Site, open_page) -> None:
    page = open_page()
    sign_up(page, "keys@example.org")
    page.goto("/?period=monthly&date=2023-10-15")
    page.keyboard.press("j")
    page.keyboard.press("j")
    second = page.locator(".paper-card").nth(1)
    expect(second).to_have_class("paper-card current-card")
    page.keyboard.press("k")
    first = page.locator(".paper-card").nth(0)
    expect(first).to_have_class("paper-card current-card")
    count = int(first.locator(".vote-count").inner_text())
    page.keyboard.press("u")
    expect(first.locator(".vote-count")).to_have_text(str(count + 1))
    page.keyboard.press("s")
    expect(first.locator(".save-button")).to_have_text("★ Saved")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.goto("/about")
    shortcuts = page.locator("dl.shortcuts").inner_text()
    for key in ("/", "j", "k", "s", "u"):
        assert key in shortcuts


def test_dark_mode_follows_the_system_and_the_toggle_is_remembered(site: Site, open_page) -> None:
    dark = open_page(color_scheme="dark")
    dark.goto("/")
    assert sum(_rgb(dark, "html")) < 150  # a dark background
    light = open_page(color_scheme="light")
    light.goto("/")
    assert sum(_rgb(light, "html")) > 600
    # The toggle overrides the system's choice, and the browser remembers it.
    dark.click("#theme-toggle")
    assert sum(_rgb(dark, "html")) > 600
    dark.goto("/trending")
    assert sum(_rgb(dark, "html")) > 600
    dark.click("#theme-toggle")
    assert sum(_rgb(dark, "html")) < 150
    shot(dark, "dark-trending")
