"""Item 12: no secrets and no forged lines in the access log; item 13: a feed token with '²'
is a 404, not a 500; item 15: an exhausted database pool is a 503 with Retry-After."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.web import create_app
from paperfeed.web.middleware import loggable_target

SECRET = "s3cr3t-T0KEN-value"


@pytest.mark.parametrize(
    "target",
    [
        f"/reset?token={SECRET}",
        f"/for-you/feed.atom?token={SECRET}",
        f"/subscriptions/confirm/{SECRET}",
        f"/subscriptions/manage/{SECRET}",
        f"/unsubscribe/{SECRET}",
        f"/search?q=x&TOKEN={SECRET}",
    ],
)
def test_the_access_log_holds_no_secret(
    client: TestClient, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    with caplog.at_level(logging.INFO, logger="paperfeed.web.access"):
        client.get(target)
    lines = [r.getMessage() for r in caplog.records if r.name == "paperfeed.web.access"]
    assert lines and all(SECRET not in line for line in lines), lines
    assert "[redacted]" in lines[-1]


def test_a_request_cannot_forge_access_log_lines(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    forged = '/x%0a127.0.0.1%20"GET%20/admin"%20200%1b[31m'
    with caplog.at_level(logging.INFO, logger="paperfeed.web.access"):
        client.get(forged)
    [line] = [r.getMessage() for r in caplog.records if r.name == "paperfeed.web.access"]
    assert "\n" not in line and "\x1b" not in line
    assert "\\x0a" in line and "\\x1b" in line


def test_loggable_target_keeps_ordinary_requests_readable() -> None:
    assert loggable_target("/papers/12", "q=attention&page=2") == "/papers/12?q=attention&page=2"


@pytest.mark.parametrize("token", ["²-abc", "1-é", "²²-" + "a" * 40, "١-abc"])
def test_a_feed_token_with_odd_characters_is_a_404(client: TestClient, token: str) -> None:
    response = client.get("/for-you/feed.atom", params={"token": token})
    assert response.status_code == 404


def test_an_exhausted_pool_is_a_503_with_retry_after(settings) -> None:
    small = dataclasses.replace(settings, pool_size=1)
    with Paperfeed(small) as pf, TestClient(create_app(pf)) as client:
        client.get("/api/papers")  # warm up: the pool and the schema check
        with pf.db.connection():  # the only connection is taken
            response = client.get("/api/trending")
            page = client.get("/")
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["error"]["status"] == 503
    assert page.status_code == 503 and page.headers["retry-after"]
