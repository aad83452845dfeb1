"""Fixtures for web tests: the real app over the test's PostgreSQL, plus helpers."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from paperfeed import catalogue
from paperfeed.app import Paperfeed
from paperfeed.config import DEFAULTS
from paperfeed.model import Paper, Record
from paperfeed.web import create_app

_META = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
_counter = itertools.count(1)


def csrf_of(client: TestClient) -> str:
    """This client's CSRF token, read from a page like a browser would."""
    match = _META.search(client.get("/signin").text)
    assert match, "page without a CSRF meta tag"
    return match.group(1)


def sign_up(client: TestClient, email: str | None = None, password: str = "correct horse") -> str:
    """Create an account through the form; return its email. The client is then signed in."""
    email = email or f"user{next(_counter)}@example.org"
    response = client.post(
        "/signup",
        data={"email": email, "password": password, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    client.csrf = csrf_of(client)  # type: ignore[attr-defined]
    return email


def add_papers(pf: Paperfeed, *papers: Paper) -> list[int]:
    """Import papers through the catalogue; return their ids in order."""
    records = [Record(p, "test", f"test:{i}:{p.title}", f"item {i}") for i, p in enumerate(papers)]
    catalogue.ingest(pf.db, records, source="test", origin="fixture")
    with pf.db.connection() as conn:
        rows = conn.execute(
            "SELECT paper_id, external_key FROM paper_sources WHERE source = 'test'"
        ).fetchall()
    by_key = {r["external_key"]: r["paper_id"] for r in rows}
    return [by_key[r.external_key] for r in records]


def paper(title: str, day: date, upvotes: int = 0, **fields) -> Paper:
    """A paper listed on `day` with a plausible abstract."""
    fields.setdefault("abstract", f"We study {title.lower()} in depth and report results.")
    return Paper(title=title, listed_on=day, published_on=day, upvotes=upvotes, **fields)


@pytest.fixture(autouse=True)
def keyword_search_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Web tests search by keyword (loading the embedding model would add seconds per run)
    and start with empty ranking caches.

    (The hybrid path is the search module's to test; the e2e test runs it for real.)
    """
    from paperfeed.web import cached, finder

    monkeypatch.setitem(finder._embedders, DEFAULTS["embedding_model"], None)
    cached.clear()


@pytest.fixture
def app(pf: Paperfeed):
    return create_app(pf)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def signed_in(app) -> Iterator[TestClient]:
    """A client signed in as a fresh user; its CSRF token is in `client.csrf`."""
    with TestClient(app) as c:
        c.email = sign_up(c)  # type: ignore[attr-defined]
        yield c
