"""End to end: the search page's own form in headless Chromium, every field empty or set.

Each submission goes through the real form (button or Enter), so the browser
sends exactly what it sends for people: empty fields included.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_browser import page, server, shot  # noqa: F401 - fixtures reused

pytestmark = pytest.mark.e2e
FORM = "form.search-form"


def _submit(page, *, enter: bool = False) -> int:  # noqa: F811 - the fixture's value
    """Submit the search form; the status of the page it leads to."""
    with page.expect_navigation() as nav:
        if enter:
            page.press(f"{FORM} input[name=q]", "Enter")
        else:
            page.click(f"{FORM} button[type=submit]")
    return nav.value.status


def _count(page) -> int:  # noqa: F811
    line = page.locator(".count-line")
    if not line.count():
        return 0
    return int(re.match(r"(\d+)", line.inner_text()).group(1))


def test_search_form_works_with_every_field_empty_or_set(page) -> None:  # noqa: F811
    page.goto("/search?q=quantization")
    everything = _count(page)
    assert everything >= 2

    # All empty: what pressing Search on a fresh page sends.
    assert _submit(page) == 200
    assert "min_upvotes=" in page.url and _count(page) == everything
    assert _submit(page, enter=True) == 200 and _count(page) == everything
    shot(page, "search-form-01-empty")

    # Each filter alone, then cleared again.
    page.fill(f"{FORM} input[name=date_from]", "2024-01-01")
    assert _submit(page) == 200 and 0 < _count(page) <= everything
    page.fill(f"{FORM} input[name=date_from]", "")
    page.fill(f"{FORM} input[name=date_to]", "2030-12-31")
    assert _submit(page) == 200 and _count(page) == everything
    page.fill(f"{FORM} input[name=date_to]", "")

    page.fill(f"{FORM} input[name=min_upvotes]", "0")
    assert _submit(page) == 200 and _count(page) == everything
    # 0 survives the round trip: the field still says 0.
    assert page.input_value(f"{FORM} input[name=min_upvotes]") == "0"
    page.fill(f"{FORM} input[name=min_upvotes]", "1")
    assert _submit(page) == 200 and _count(page) <= everything
    page.fill(f"{FORM} input[name=min_upvotes]", "")

    page.check(f"{FORM} input[name=has_code]")
    assert _submit(page) == 200 and "has_code=true" in page.url
    assert page.is_checked(f"{FORM} input[name=has_code]")
    page.uncheck(f"{FORM} input[name=has_code]")

    for sort in ("date", "upvotes", "relevance"):
        page.select_option(f"{FORM} select[name=sort]", sort)
        assert _submit(page) == 200 and _count(page) == everything, sort

    # Organisation: the known ones are offered; a lower-case prefix of one matches.
    offered = page.locator("datalist#organizations option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    assert offered, "no organisations offered"
    name = offered[0]
    page.fill(f"{FORM} input[name=organization]", name.split()[0].lower()[:5])
    assert _submit(page) == 200 and _count(page) >= 1
    assert all(
        name.split()[0].lower()[:5] in org.lower()
        for org in page.locator(".search-results .org-chip").all_inner_texts()
    )
    shot(page, "search-form-02-organisation")

    # Everything set at once.
    page.fill(f"{FORM} input[name=date_from]", "2000-01-01")
    page.fill(f"{FORM} input[name=date_to]", "2030-12-31")
    page.fill(f"{FORM} input[name=min_upvotes]", "0")
    page.select_option(f"{FORM} select[name=sort]", "date")
    assert _submit(page) == 200
    shot(page, "search-form-03-all-set")

    # Nonsense: the no-results page, with suggestions.
    page.fill(f"{FORM} input[name=organization]", "")
    page.fill(f"{FORM} input[name=q]", "qwxzzkjh banana bread")
    assert _submit(page) == 200
    assert page.locator("#no-results").is_visible()
    assert page.locator("#no-results .suggestions li").count() >= 2
    shot(page, "search-form-04-no-results")
