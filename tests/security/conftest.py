"""Fixtures for the security regression tests (issue 16): the real app over real PostgreSQL,
mail through the loopback aiosmtpd server, browsers that keep cookies like Chromium does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.web import create_app
from tests.conftest import Mailbox
from tests.web.conftest import keyword_search_only  # noqa: F401 - autouse fixture

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
BASE = "https://papers.example.org"


def csrf_of(client: TestClient, path: str = "/signin") -> str:
    """The CSRF token a page hands this client, read from its meta tag like a script would."""
    match = _META.search(client.get(path).text)
    assert match, "page without a CSRF token"
    return match.group(1)


def sign_up(client: TestClient, email: str, password: str = "correct horse battery") -> None:
    """Create an account through the form; the client is then signed in."""
    response = client.post(
        "/signup",
        data={"email": email, "password": password, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def sign_in(client: TestClient, email: str, password: str = "correct horse battery", **headers):
    """Post the sign-in form; return the response (303 on success)."""
    return client.post(
        "/signin",
        data={"email": email, "password": password, "csrf_token": csrf_of(client)},
        headers=headers,
        follow_redirects=False,
    )


def link_in(mailbox: Mailbox, address: str, pattern: str) -> str:
    """The one link matching `pattern` in the last message to `address`, as a local path."""
    messages = mailbox.to(address)
    assert messages, f"no mail to {address}"
    text = messages[-1].get_body(("plain",)).get_content()
    match = re.search(pattern, text)
    assert match, text
    return match.group(0).removeprefix(BASE)


@pytest.fixture
def browser(mpf: Paperfeed) -> Callable[[], TestClient]:
    """A factory of independent clients (separate cookie jars) over one real app."""
    app = create_app(mpf)
    opened: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(app, base_url=BASE)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(browser: Callable[[], TestClient]) -> Iterator[TestClient]:
    return browser()


def wait_for_waiting(gate, count: int) -> None:
    """Poll until `count` requests wait in the hashing gate (a condition, not a duration)."""
    for _ in range(600):
        if gate.waiting == count:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{gate.waiting} requests reached the password hash, not {count}")
