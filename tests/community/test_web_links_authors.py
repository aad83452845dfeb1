"""Cards and pages show links, linked author names; author pages; follows."""

from __future__ import annotations

import re
from datetime import date

from paperfeed.model import Paper
from tests.web.conftest import add_papers, paper

DAY = date(2025, 3, 3)


def _papers(pf):
    return add_papers(
        pf,
        paper(
            "Graph transformers at scale",
            DAY,
            upvotes=5,
            arxiv_id="2503.00001",
            authors=("Jane Doe", "Bob Roe"),
            organization="Acme AI",
            abstract="We propose X. Code: https://github.com/acme/graphx. Weights at "
            "https://huggingface.co/acme/graphx-7b and a demo: javascript:alert(1)",
        ),
        paper(
            "Second graph paper by Jane", DAY, authors=("Jane Doe", "Carol Poe"), doi="10.1000/xyz"
        ),
        Paper("Undated", authors=("Bob Roe",)),
    )


def test_cards_show_link_chips_and_author_links(pf, client) -> None:
    _papers(pf)
    html = client.get("/?date=2025-03-03").text
    assert 'href="https://github.com/acme/graphx"' in html
    assert 'href="https://huggingface.co/acme/graphx-7b"' in html
    assert 'href="https://arxiv.org/pdf/2503.00001"' in html
    assert 'href="/authors/jane-doe"' in html
    assert "javascript:" not in html.replace("demo: javascript:alert(1)", "")


def test_paper_page_links_abstract_urls_and_authors(pf, client) -> None:
    first, second, _ = _papers(pf)
    html = client.get(f"/papers/{first}").text
    assert '<a href="https://github.com/acme/graphx" rel="nofollow noopener">' in html
    assert 'href="javascript' not in html
    assert '<a class="author-link" href="/authors/bob-roe">Bob Roe</a>' in html
    assert 'href="https://doi.org/10.1000/xyz"' in client.get(f"/papers/{second}").text


def test_author_page_lists_papers_coauthors_and_orgs(pf, client) -> None:
    _papers(pf)
    html = client.get("/authors/jane-doe").text
    assert "<h1>Jane Doe" in html
    assert "2 papers here" in html
    assert "Graph transformers at scale" in html and "Second graph paper by Jane" in html
    assert re.search(r'href="/authors/bob-roe">Bob Roe</a> <span class="muted">· 1', html)
    assert 'href="/orgs/Acme%20AI">Acme AI</a>' in html
    assert client.get("/authors/nobody-at-all").status_code == 404


def test_has_code_filter_counts_abstract_links(pf, client) -> None:
    _papers(pf)
    html = client.get("/search?q=graph&has_code=true").text
    assert "transformers at scale" in html
    assert "paper by Jane" not in html
    assert "paper by Jane" in client.get("/search?q=graph").text


def test_follow_author_and_org_then_following_page(pf, signed_in) -> None:
    _papers(pf)
    c = signed_in
    r = c.post("/authors/jane-doe/follow", data={"csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert "Following ✓" in c.get("/authors/jane-doe").text
    r = c.post(
        "/following/orgs",
        data={"csrf_token": c.csrf, "organization": "Acme AI"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    html = c.get("/following").text
    assert 'href="/authors/jane-doe">Jane Doe</a>' in html
    assert "Acme AI" in html
    assert "by Jane Doe, whom you follow" in html
    # Unknown organisations and missing CSRF tokens are refused.
    bad = c.post("/following/orgs", data={"csrf_token": c.csrf, "organization": "Nope"})
    assert bad.status_code == 404
    assert c.post("/authors/jane-doe/follow", data={}).status_code == 403
    c.post("/authors/jane-doe/follow", data={"csrf_token": c.csrf, "action": "unfollow"})
    assert "Following ✓" not in c.get("/authors/jane-doe").text


def test_following_needs_an_account(client) -> None:
    assert client.get("/following", follow_redirects=False).status_code in (303, 401)
