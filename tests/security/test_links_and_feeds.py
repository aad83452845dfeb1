"""Items 3 and 4: one URL policy (http/https only) at import and at every output, and paper
text that reaches RSS/Atom readers as text, never as markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

from paperfeed.app import Paperfeed
from paperfeed.delivery import digest
from paperfeed.delivery.candidates import CandidateFinder
from paperfeed.model import http_url
from tests.conftest import Mailbox
from tests.delivery.conftest import active_subscription, add_papers

TODAY = date(2026, 11, 23)
BAD_LINKS = ["javascript:alert(1)", "data:text/html,<script>x</script>", " JavaScript:x",
             "//evil.example/x", "vbscript:x", "http://", "https://a b"]
PAYLOAD = 'We study <img src=x onerror="alert(1)"> and <a href="https://evil.example">links</a>.'


def test_the_policy_keeps_only_http_and_https() -> None:
    assert [http_url(u) for u in BAD_LINKS] == [None] * len(BAD_LINKS)
    assert http_url(" https://github.com/a/b ") == "https://github.com/a/b"
    assert http_url("HTTP://example.org") == "HTTP://example.org"


def _paper_with_code_link(pf: Paperfeed, link: str) -> int:
    """A paper whose stored Code link is `link` (as a row imported before the policy was)."""
    [pid] = add_papers(pf, [("Tainted Paper", TODAY, 9)], abstract=PAYLOAD)
    with pf.db.transaction() as conn:
        conn.execute("UPDATE papers SET github_url = %s WHERE id = %s", (link, pid))
    return pid


def test_import_drops_a_javascript_code_link(mpf: Paperfeed) -> None:
    from paperfeed import catalogue
    from paperfeed.model import Paper, Record

    paper = Paper(title="Imported", abstract=PAYLOAD, github_url="javascript:alert(1)")
    catalogue.ingest(mpf.db, [Record(paper, "test", "k", "t")], source="test", origin="t")
    with mpf.db.connection() as conn:
        assert conn.execute("SELECT github_url FROM papers").fetchone()["github_url"] is None


def test_digest_mail_has_no_javascript_link(mpf: Paperfeed, mailbox: Mailbox) -> None:
    _paper_with_code_link(mpf, "javascript:alert(document.cookie)")
    active_subscription(mpf, "reader@example.com")
    report = digest.run(mpf, now=datetime(2026, 11, 23, 8, 0, tzinfo=UTC), finder=CandidateFinder())
    assert report.sent.sent == 1
    [msg] = mailbox.to("reader@example.com")
    raw = msg.as_string().lower()
    assert "javascript:" not in raw and "<img" not in raw


def test_pages_and_api_have_no_javascript_link(mpf: Paperfeed, client) -> None:
    pid = _paper_with_code_link(mpf, "javascript:alert(1)")
    assert "javascript:" not in client.get(f"/papers/{pid}").text
    assert client.get(f"/api/papers/{pid}").json()["github_url"] is None
    trending = client.get("/api/trending").json()["papers"]
    assert [p["github_url"] for p in trending] == [None]


def test_rss_description_is_escaped_text(mpf: Paperfeed, client) -> None:
    _paper_with_code_link(mpf, "https://github.com/ok/ok")
    rss = ET.fromstring(client.get("/feeds/trending.rss").content)
    [description] = [d.text for d in rss.iter("description") if d.text and "study" in d.text]
    # What a reader renders as HTML: the characters, never a tag.
    assert "<img" not in description and "<a " not in description
    assert "&lt;img" in description


def test_atom_summary_is_declared_text(mpf: Paperfeed, client) -> None:
    _paper_with_code_link(mpf, "https://github.com/ok/ok")
    atom = ET.fromstring(client.get("/feeds/trending.atom").content)
    [summary] = atom.iter("{http://www.w3.org/2005/Atom}summary")
    assert summary.get("type") == "text" and "<img" in summary.text
