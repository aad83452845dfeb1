"""Every page of the app, in Chromium: fits a phone screen, and axe-core finds nothing serious.

"Every page" is the list below: each page a visitor can reach from the header,
the footer, a card or the account page, signed out and signed in (and as an
administrator), filled from the seed corpus. axe-core runs in light and dark
mode; /api/docs (Swagger UI, not ours) is checked for width only.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.axe import describe, violations
from tests.e2e.conftest import DESKTOP, PHONE, Site, shot, sign_up

pytestmark = pytest.mark.e2e


def _anonymous_pages(site: Site) -> list[str]:
    paper = httpx.get(site.url + "/api/trending?limit=1").json()["papers"]
    paper_id = paper[0]["id"] if paper else 1
    orgs = re.findall(r'href="(/orgs/[^"]+)"', httpx.get(site.url + "/orgs").text)
    topic = httpx.get(site.url + "/api/topics").json()["topics"][0]["id"]
    return [
        "/",
        "/?period=weekly",
        "/?period=monthly",
        "/trending",
        "/search",
        "/search?q=quantization",
        "/search?q=zzzzunmatched",
        f"/papers/{paper_id}",
        "/orgs",
        *orgs[:1],
        "/about",
        "/submit",
        "/signin",
        "/signup",
        "/forgot",
        "/subscribe",
        "/subscribe?kind=search&q=quantization",
        "/topics",
        f"/topics/{topic}",
    ]


SIGNED_IN = ["/account", "/for-you", "/library", "/subscriptions", "/submit"]
ADMIN = ["/admin", "/admin/papers", "/admin/papers?state=review", "/admin/delivery"]


def _check_width(page, path: str) -> None:
    page.goto(path)
    wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"{path} is {wide[0]} px wide on a {wide[1]} px screen"


def test_every_page_fits_a_390_px_phone_screen(site: Site, open_page) -> None:
    page = open_page(viewport=PHONE)
    for path in [*_anonymous_pages(site), "/api/docs"]:
        _check_width(page, path)
    # The header menu folds behind one button and opens with it.
    page.goto("/")
    assert not page.locator(".main-nav").is_visible()
    page.click("#nav-toggle")
    assert page.locator(".main-nav a[href='/topics']").is_visible()
    assert page.get_attribute("#nav-toggle", "aria-expanded") == "true"
    shot(page, "phone-menu")
    sign_up(page, "phone@example.org")
    site.cli("users", "promote", "phone@example.org")
    for path in [*SIGNED_IN, *ADMIN]:
        _check_width(page, path)
    page.goto("/")
    shot(page, "phone-home")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation_on_any_page(
    site: Site, open_page, scheme: str
) -> None:
    page = open_page(viewport=DESKTOP, color_scheme=scheme)
    found = {}
    for path in _anonymous_pages(site):
        page.goto(path)
        found[path] = violations(page)
    email = f"axe-{scheme}@example.org"
    sign_up(page, email)
    site.cli("users", "promote", email)
    for path in [*SIGNED_IN, *ADMIN]:
        page.goto(path)
        found[path] = violations(page)
    bad = {path: describe(v) for path, v in found.items() if v}
    assert not bad, "\n".join(f"{path}:\n{text}" for path, text in bad.items())
