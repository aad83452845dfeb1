"""Issue 14 item 14: a site under a sub-path (PAPERFEED_ROOT_PATH or the base URL's path)."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.config import ConfigError, Settings
from paperfeed.web import create_app
from tests.web.conftest import add_papers, paper

DAY = date(2024, 9, 20)


@pytest.fixture
def sub(pf: Paperfeed) -> Paperfeed:
    """The app as https://example.org/papers/ serves it (root path from the base URL)."""
    settings = dataclasses.replace(pf.settings, base_url="https://example.org/papers")
    return Paperfeed(settings, database=pf.db)


def _local_urls(html: str) -> list[str]:
    return re.findall(r'\s(?:href|src|action)="(/[^"]*)"', html)


def test_pages_links_static_and_redirects_carry_the_root_path(sub: Paperfeed) -> None:
    [pid] = add_papers(sub, paper("Sub-path paper", DAY, 2, arxiv_id="2409.00001"))
    with TestClient(create_app(sub), base_url="https://example.org") as client:
        page = client.get("/papers/")
        assert page.status_code == 200
        urls = _local_urls(page.text)
        assert urls and all(u.startswith("/papers/") for u in urls), urls
        assert f"/papers/papers/{pid}" in urls
        assert '<html data-root="/papers"' in page.text
        # The stylesheet the page names is served there.
        [css] = [u for u in urls if "/static/" in u and u.endswith(".css")][:1]
        assert client.get(css).status_code == 200
        # Forms post to the prefixed path, and the app answers there.
        assert 'action="/papers/search"' in client.get("/papers/search?q=paper").text
        # A redirect (arXiv id -> numeric id) stays under the prefix.
        moved = client.get("/papers/papers/2409.00001", follow_redirects=False)
        assert moved.status_code in (301, 307, 308)
        assert moved.headers["location"] == f"/papers/papers/{pid}"
        needs_sign_in = client.get("/papers/library", follow_redirects=False)
        assert needs_sign_in.headers["location"].startswith("/papers/signin?next=")
        # Feeds use the base URL, path included.
        feed = client.get("/papers/feeds/daily.atom")
        assert feed.status_code == 200
        assert f"https://example.org/papers/papers/{pid}" in feed.text
        # A node answers its own paths too (health checks straight to it).
        assert client.get("/healthz").status_code == 200


def test_the_root_path_setting_wins_and_is_checked(pf: Paperfeed) -> None:
    explicit = dataclasses.replace(pf.settings, root_path="/lab/papers/")
    assert explicit.public_root == "/lab/papers"
    top = dataclasses.replace(pf.settings, base_url="https://example.org/papers", root_path="/")
    assert top.public_root == ""
    with TestClient(create_app(Paperfeed(explicit, database=pf.db))) as client:
        assert client.get("/lab/papers/about").status_code == 200
        assert 'href="/lab/papers/' in client.get("/lab/papers/about").text
    with pytest.raises(ConfigError, match="PAPERFEED_ROOT_PATH"):
        Settings.from_env({"PAPERFEED_ROOT_PATH": "papers"})


def test_no_root_path_changes_nothing(client: TestClient) -> None:
    page = client.get("/")
    assert "data-root" not in page.text
    assert any(u.startswith("/static/") for u in _local_urls(page.text))
