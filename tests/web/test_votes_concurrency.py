"""Vote counts stay exact when many requests race, through real HTTP against uvicorn."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import httpx
import pytest

from paperfeed.catalogue import accounts
from paperfeed.ranking import lists
from paperfeed.web import create_app
from paperfeed.web.deps import csrf_token_for
from tests.web.conftest import add_papers, paper
from tests.web.server import running

CSRF_COOKIE_VALUE = "concurrency-test-browser"


def _sessions(pf, n: int) -> list[str]:
    """n users with one session each (created directly: hashing 200 passwords is not the point)."""
    tokens = []
    with pf.db.transaction() as conn:
        for i in range(n):
            row = conn.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id",
                (f"racer{i}@example.org",),
            ).fetchone()
            tokens.append(accounts.create_session(conn, row["id"]))
    return tokens


def _vote(base: str, session: str, token: str, paper_id: int) -> int:
    cookies = {"pf_session": session, "pf_csrf": CSRF_COOKIE_VALUE}
    with httpx.Client(base_url=base, cookies=cookies, timeout=60) as http:
        response = http.post(f"/api/papers/{paper_id}/vote", headers={"X-CSRF-Token": token})
    return response.status_code


@pytest.fixture
def served(pf):
    with running(create_app(pf)) as base:
        yield base


def test_200_users_voting_at_once_count_200(pf, served):
    [pid] = add_papers(pf, paper("Popular", date(2024, 9, 20), 0))
    sessions = _sessions(pf, 200)
    # A CSRF token is good for one session only.
    tokens = [csrf_token_for(pf.secret_key, CSRF_COOKIE_VALUE, s) for s in sessions]
    with ThreadPoolExecutor(max_workers=50) as pool:
        pairs = zip(sessions, tokens, strict=True)
        codes = list(pool.map(lambda st: _vote(served, *st, pid), pairs))
    assert codes == [200] * 200
    with pf.db.connection() as conn:
        assert lists.upvote_count(conn, pid) == 200


def test_one_user_voting_50_times_at_once_counts_once(pf, served):
    [pid] = add_papers(pf, paper("Contested", date(2024, 9, 20), 7))
    [session] = _sessions(pf, 1)
    token = csrf_token_for(pf.secret_key, CSRF_COOKIE_VALUE, session)
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(lambda _: _vote(served, session, token, pid), range(50)))
    assert codes == [200] * 50
    with pf.db.connection() as conn:
        assert lists.upvote_count(conn, pid) == 8
