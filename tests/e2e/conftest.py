"""The browser tests' site: one `paperfeed serve` per test process over the seed corpus.

The seed pages are imported, embedded (the real MiniLM) and clustered into a
topic map once; the server's mail goes to an aiosmtpd server on loopback, so
account flows can read the links they were sent. Tests share the site: each
signs up with its own address.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from psycopg.conninfo import make_conninfo

from tests.conftest import SEEDS, Mailbox, _free_port
from tests.e2e.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

CLI = [sys.executable, "-m", "paperfeed"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclasses.dataclass
class Site:
    """A running instance: its URL, its environment (for CLI calls) and its mailbox."""

    url: str
    env: dict[str, str]
    mailbox: Mailbox

    def cli(self, *args: str) -> str:
        """Run a `paperfeed` command against the site's database; its output."""
        done = subprocess.run(
            [*CLI, *args], env=self.env, check=True, capture_output=True, text=True, timeout=600
        )
        return done.stdout

    def link_in_mail(self, to: str, path: str, timeout: float = 20) -> str:
        """The site-relative link to `path…` in the newest message sent to `to`."""
        deadline = time.monotonic() + timeout
        pattern = re.compile(r"https?://[^/\s]+(" + re.escape(path) + r"[^\s\"'<>]*)")
        while time.monotonic() < deadline:
            for message in reversed(self.mailbox.to(to)):
                body = message.get_body(preferencelist=("plain", "html"))
                found = pattern.search(body.get_content() if body else "")
                if found:
                    return found.group(1)
            time.sleep(0.2)
        raise AssertionError(f"no mail to {to} with a {path} link")


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        time.sleep(0.3)


@pytest.fixture(scope="session")
def site(
    pg_server: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The seed corpus, embedded and clustered, served with mail going to aiosmtpd."""
    if not Path(CHROMIUM).exists() or not SEEDS:
        pytest.skip("needs /usr/bin/chromium and the seed pages")
    name = f"pf_site_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    box = Mailbox()
    smtp_port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    home = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": make_conninfo(pg_server, dbname=name),
        # Required with an external database (every instance signs with one key).
        "PAPERFEED_SECRET_KEY": "e2e-secret-key",
        "PAPERFEED_HOME": str(home / "home"),
        "PAPERFEED_SCHEDULER": "false",
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(smtp_port),
        "PAPERFEED_MAIL_FROM": "paperfeed <digest@papers.example.org>",
        "HF_HUB_OFFLINE": "1",
    }
    site = Site("", env, box)
    site.cli("ingest", "listing", *map(str, SEEDS), "--listing-year", "2025")
    site.cli("embed")
    site.cli("topics", "build")
    try:
        with serving(env, home / "serve.log") as url:
            site.url = url
            env["PAPERFEED_BASE_URL"] = url
            yield site
    finally:
        controller.stop()
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """`paperfeed serve` with this environment on a free port until the block ends; its URL.

    PAPERFEED_BASE_URL is set to the URL it serves (links in its emails point there).
    """
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**env, "PAPERFEED_BASE_URL": base}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            _wait_healthy(base, proc, log)
            yield base
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.fixture(autouse=True)
def fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """Sign-ups are limited to 10 an hour per address, and every test signs up from
    127.0.0.1 on the shared site: each test starts with the counters at zero."""
    if "site" not in request.fixturenames:
        return
    site: Site = request.getfixturevalue("site")
    with psycopg.connect(site.env["PAPERFEED_DATABASE_URL"], autocommit=True) as conn:
        conn.execute("DELETE FROM rate_limits")


@pytest.fixture(scope="module")
def chromium(site: Site):
    """One headless Chromium per test module (each test opens its own context).

    Module-scoped: the other browser tests start Playwright themselves, and only
    one Playwright may run at a time in a process.
    """
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, site: Site):
    """`open_page(viewport=…, color_scheme=…)`: a fresh browser context's page on the site.

    Every page error or console error fails the test.
    """
    contexts, errors = [], []

    def make(viewport: dict[str, int] = DESKTOP, color_scheme: str = "light"):
        context = chromium.new_context(
            base_url=site.url, viewport=viewport, color_scheme=color_scheme
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: _console(msg, errors))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"browser errors: {errors}"


# Chromium logs every 4xx answer as a console error; the tests cause those on purpose
# (a wrong password, an unknown paper). Any other console error fails the test.
_EXPECTED = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


def _console(msg, errors: list[str]) -> None:
    if msg.type == "error" and not _EXPECTED.match(msg.text):
        errors.append(msg.text)


def sign_up(page, email: str, password: str = "a good password", name: str = "") -> None:
    """Create an account through the form and wait until it is signed in."""
    page.goto("/signup")
    page.fill("main input[name=email]", email)
    if name:
        page.fill("main input[name=display_name]", name)
    page.fill("main input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_selector(".user-link", state="attached")


def shot(page, name: str) -> None:
    """A full-page screenshot in test-artifacts/ for a person to look at."""
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=True)
