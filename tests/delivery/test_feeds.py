"""Atom and RSS feeds, parsed back with feedparser: items, dates, escaping, discovery."""

from __future__ import annotations

from datetime import date

import feedparser
import pytest

from paperfeed.delivery.feeds import FeedInfo, build_feed

from .conftest import add_papers

HOSTILE = 'Breaking <script>alert("x")</script> & ]]> <![CDATA[ "quotes" \'apos\' ≥ 𝔸'


@pytest.fixture
def papers(mpf) -> list[int]:
    return add_papers(
        mpf,
        [
            ("Quantum Widgets", date(2026, 11, 20), 40),
            (HOSTILE, date(2026, 11, 20), 10),
            ("Older Monthly Paper", date(2026, 11, 3), 90),
        ],
        organization="Widget Lab",
    )


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_daily_feed_lists_the_newest_day_most_upvoted_first(client, papers, fmt) -> None:
    response = client.get(f"/feeds/daily.{fmt}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(f"application/{fmt}+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.version == ("atom10" if fmt == "atom" else "rss20")
    assert [e.title for e in feed.entries] == ["Quantum Widgets", HOSTILE]
    first = feed.entries[0]
    assert first.link == f"https://papers.example.org/papers/{papers[0]}"
    assert first.published_parsed[:3] == (2026, 11, 20)
    assert feed.feed.link == "https://papers.example.org/"


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_hostile_title_is_escaped_not_executed(client, papers, fmt) -> None:
    raw = client.get(f"/feeds/monthly.{fmt}").content
    assert b"<script>" not in raw
    feed = feedparser.parse(raw)
    assert not feed.bozo
    assert HOSTILE in [e.title for e in feed.entries]
    assert len(feed.entries) == 3


def test_control_characters_never_break_the_xml() -> None:
    info = FeedInfo("t", "https://x/", "https://x/feeds/t.atom", "d")
    paper = {"id": 1, "title": "Bad\x00\x08 title\ud800", "abstract": "A\x1b. B.", "authors": []}
    for fmt in ("atom", "rss"):
        feed = feedparser.parse(build_feed(fmt, info, [paper], base_url="https://x"))
        assert not feed.bozo and feed.entries[0].title == "Bad title"


def test_weekly_trending_search_and_organisation_feeds(client, papers) -> None:
    weekly = feedparser.parse(client.get("/feeds/weekly.atom").content)
    assert {e.title for e in weekly.entries} == {"Quantum Widgets", HOSTILE}
    trending = feedparser.parse(client.get("/feeds/trending.rss").content)
    assert len(trending.entries) == 3
    found = feedparser.parse(client.get("/feeds/search.atom", params={"q": "quantum"}).content)
    assert [e.title for e in found.entries] == ["Quantum Widgets"]
    assert "q=quantum" in found.feed.link
    org = feedparser.parse(client.get("/feeds/orgs/Widget Lab.rss").content)
    assert len(org.entries) == 3 and org.entries[0].title != "Older Monthly Paper"
    assert client.get("/feeds/orgs/Nobody.atom").status_code == 404
    assert client.get("/feeds/search.atom").status_code == 400
    assert client.get("/feeds/daily.json").status_code == 404


def test_pages_get_alternate_links_for_their_feeds(mpf) -> None:
    from starlette.requests import Request

    from paperfeed.web.deps import templates
    from paperfeed.web.routes import feeds  # noqa: F401 - registers the template global

    def head(path: str, query: str = "") -> str:
        scope = {"type": "http", "path": path, "query_string": query.encode(), "headers": []}
        return templates.get_template("feeds/_alternate.html").render(request=Request(scope))

    home = head("/", "period=weekly")
    assert 'rel="alternate" type="application/atom+xml"' in home
    assert 'href="/feeds/weekly.atom"' in home and 'href="/feeds/weekly.rss"' in home
    search = head("/search", "q=%3Cb%3E+graphs&page=2")
    assert "/feeds/search.atom?q=%3Cb%3E+graphs" in search and "page=2" not in search
    assert "<b>" not in search  # the query is escaped in the title attribute
    assert 'href="/feeds/orgs/Widget%20Lab.rss"' in head("/orgs/Widget Lab")


def test_real_pages_advertise_their_feeds(client, papers) -> None:
    home = client.get("/").text
    assert '<link rel="alternate" type="application/atom+xml"' in home
    assert 'href="/feeds/daily.rss"' in home
    assert 'href="/feeds/trending.atom"' in client.get("/trending").text
