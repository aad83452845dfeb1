"""The caches behind list pages must never show an anonymous visitor stale or foreign data."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from paperfeed.web import cached
from tests.web.conftest import add_papers, csrf_of, paper

DAY = date(2025, 3, 4)
_COUNT = re.compile(
    r'data-paper-id="(\d+)"[^>]*>\s*<span class="vote-arrow"[^<]*</span>\s*'
    r'<span class="vote-count">(\d+)</span>'
)


def counts(html: str) -> dict[int, int]:
    return {int(pid): int(n) for pid, n in _COUNT.findall(html)}


def test_anonymous_pages_are_shared_until_the_database_changes(app, pf, signed_in):
    [pid] = add_papers(pf, paper("Cached attention", DAY, upvotes=3))
    with TestClient(app) as first, TestClient(app) as second:
        for path in ("/", "/trending"):
            assert counts(first.get(path).text)[pid] == 3
        cached_bodies = len(cached._pages)
        assert cached_bodies == 2
        assert counts(second.get("/trending").text)[pid] == 3
        assert len(cached._pages) == cached_bodies  # served from the cache

        vote = signed_in.post(f"/api/papers/{pid}/vote", headers={"X-CSRF-Token": signed_in.csrf})
        assert vote.status_code == 200, vote.text
        # The vote committed, so the snapshot changed: both pages are rebuilt at once.
        for path in ("/", "/trending"):
            assert counts(second.get(path).text)[pid] == 4


def test_each_anonymous_visitor_gets_a_working_csrf_token_of_their_own(app, pf):
    add_papers(pf, paper("Shared page", DAY))
    with TestClient(app) as first, TestClient(app) as second:
        first.get("/")
        second.get("/")  # the same cached page, another visitor
        tokens = {csrf_of(c) for c in (first, second)}
        assert len(tokens) == 2
        page_token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', second.get("/").text)
        assert page_token and page_token.group(1) == csrf_of(second)
        # The token from the shared page is accepted: the vote is refused for want
        # of an account (401), not as a forgery (403).
        refused = second.post("/api/papers/1/vote", headers={"X-CSRF-Token": page_token.group(1)})
        assert refused.status_code == 401


def test_signed_in_pages_are_never_shared(app, pf, signed_in):
    [pid] = add_papers(pf, paper("Personal state", DAY, upvotes=1))
    signed_in.post(f"/api/papers/{pid}/vote", headers={"X-CSRF-Token": signed_in.csrf})
    with TestClient(app) as anonymous:
        assert 'aria-pressed="false"' in anonymous.get("/").text
    assert 'aria-pressed="true"' in signed_in.get("/").text
    assert 'aria-pressed="false"' in TestClient(app).get("/").text


def test_a_changed_paper_is_never_shown_from_the_card_cache(client, pf):
    [pid] = add_papers(pf, paper("Old title of a paper", DAY))
    assert "Old title of a paper" in client.get("/").text
    with pf.db.transaction() as conn:
        # A write that bypasses updated_at: the card cache keys on the shown fields.
        conn.execute("UPDATE papers SET title = 'New title of a paper' WHERE id = %s", (pid,))
    cached._pages.clear()  # only the card cache is under test here
    page = client.get("/").text
    assert "New title of a paper" in page and "Old title of a paper" not in page
