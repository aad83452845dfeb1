"""Delivery fixtures: dated papers, confirmed subscriptions, a client over the real app.

The SMTP server they send to (`mailbox`, `mpf`) is shared with other packages'
tests and lives in tests/conftest.py.
"""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed import catalogue
from paperfeed.app import Paperfeed
from paperfeed.delivery import subscriptions
from paperfeed.model import Paper, Record


def add_papers(pf: Paperfeed, papers: list[tuple[str, date, int]], **fields: object) -> list[int]:
    """Add (title, day, upvotes) papers; return their ids in the same order."""
    records = [
        Record(
            Paper(
                title=t,
                abstract=fields.get(
                    "abstract", f"{t} is studied. We find results. A third sentence follows."
                ),
                authors=("Ada Lovelace", "Alan Turing"),
                organization=fields.get("organization", "Example Lab"),
                listed_on=d,
                upvotes=u,
            ),
            "test",
            f"k{i}-{t}",
            f"test:{i}",
        )
        for i, (t, d, u) in enumerate(papers)
    ]
    catalogue.ingest(pf.db, records, source="test", origin="tests")
    with pf.db.connection() as conn:
        rows = conn.execute("SELECT id, title FROM papers").fetchall()
    by_title = {r["title"]: r["id"] for r in rows}
    return [by_title[t] for t, _, _ in papers]


def active_subscription(pf: Paperfeed, email_addr: str, **kw: object) -> subscriptions.Subscription:
    """A confirmed subscription (confirmed long ago, so that any test date's slot is due)."""
    with pf.db.transaction() as conn:
        sub = subscriptions.subscribe(conn, email_addr, **kw)
        subscriptions.confirm(conn, sub.id, sub.confirm_nonce)
        conn.execute(
            "UPDATE subscriptions SET confirmed_at = '2000-01-01' WHERE id = %s",
            (sub.id,),
        )
        return subscriptions.get(conn, sub.id)


@pytest.fixture
def client(mpf: Paperfeed):
    """A browser-like client over the real app (mail goes to the loopback server)."""
    from fastapi.testclient import TestClient

    from paperfeed.web import create_app

    with TestClient(create_app(mpf), base_url="https://papers.example.org") as c:
        yield c


def csrf_of(client, path: str = "/subscribe") -> str:
    """The CSRF token a page hands this client (from its meta tag)."""
    import re

    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text)
    assert match, "page without a CSRF token"
    return match.group(1)
