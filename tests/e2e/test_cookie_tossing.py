"""Issue 16 item 7, in Chromium: a page on another port of the same host plants its own CSRF
cookie (cookies ignore ports, and a Set-Cookie over HTTP may replace an HttpOnly one) and
posts a form with the token that matches it. The token is bound to the session, so the
signed-in victim's library gets no folder."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from paperfeed.app import Paperfeed
from paperfeed.web import create_app
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.server import free_port, running

pytestmark = pytest.mark.e2e
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
def app_url(pf: Paperfeed) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs /usr/bin/chromium")
    with running(create_app(pf)) as url:
        yield url


def _attacker_pair(app_url: str) -> tuple[str, str]:
    """What the attacker gets by visiting the site themselves: a CSRF cookie and its token."""
    with httpx.Client(base_url=app_url) as http:
        page = http.get("/signin")
        return http.cookies["pf_csrf"], _META.search(page.text).group(1)


@pytest.fixture
def evil(app_url: str) -> Iterator[tuple[str, str]]:
    """The attacker's page on another loopback port (plants the cookie, auto-posts the form),
    and the cookie value it plants."""
    cookie, token = _attacker_pair(app_url)
    page = (
        '<!doctype html><body onload="document.forms[0].submit()">'
        f'<form method="post" action="{app_url}/library/folders">'
        '<input name="name" value="Tossed">'
        f'<input name="csrf_token" value="{token}"></form></body>'
    ).encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Set-Cookie", f"pf_csrf={cookie}; Path=/")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", cookie
    server.shutdown()
    thread.join(10)


def _folders(pf: Paperfeed) -> list[str]:
    with pf.db.connection() as conn:
        return [r["name"] for r in conn.execute("SELECT name FROM library_folders").fetchall()]


def test_a_cookie_planted_from_another_port_does_not_pass_csrf(
    pf: Paperfeed, app_url: str, evil: tuple[str, str]
) -> None:
    evil_url, planted_value = evil
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=app_url)
        page.goto("/signup")
        page.fill("input[name=email]", "victim@example.org")
        page.fill("input[name=password]", "a good password")
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        # The victim's own form works (the mechanism the attack abuses is real).
        page.goto("/library")
        page.request.post(
            f"{app_url}/library/folders",
            form={"name": "Mine", "csrf_token": _META.search(page.content()).group(1)},
        )
        assert _folders(pf) == ["Mine"]
        with page.expect_navigation(url=re.compile(re.escape(app_url))):
            page.goto(evil_url)
        # The toss worked: the browser now sends the attacker's CSRF cookie to the app.
        planted = [c["value"] for c in page.context.cookies(app_url) if c["name"] == "pf_csrf"]
        assert planted == [planted_value]
        browser.close()
    assert _folders(pf) == ["Mine"]
