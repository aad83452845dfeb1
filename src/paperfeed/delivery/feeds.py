"""Atom and RSS 2.0 feeds of paper lists (pure: papers in, bytes out).

Built with feedgen, which writes through lxml and so escapes every title,
author and abstract as XML. That alone is not enough for RSS: readers treat a
`<description>` as HTML, so an abstract containing `<img src=…>` would arrive
as a live image. Paper text is plain text, deliberately: the RSS description
is HTML-escaped once more (a reader shows the characters, never markup), and
the Atom summary is declared `type="text"`.

Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates)
are removed first: the catalogue already drops them, but a feed must stay
well-formed whatever reaches it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from feedgen.feed import FeedGenerator

from paperfeed.delivery.compose import byline, excerpt

FORMATS = {"atom": "application/atom+xml", "rss": "application/rss+xml"}
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class FeedInfo:
    """What a feed is: its title, the page it mirrors, and its own URL."""

    title: str
    page_url: str  # the HTML page with the same list
    self_url: str  # this feed's URL (Atom rel="self", RSS atom:link)
    description: str


def xml_text(value: Any) -> str:
    """A string with every character XML 1.0 forbids removed."""
    return _XML_INVALID.sub("", str(value or ""))


def _moment(day: date | None, fallback: datetime) -> datetime:
    if day is None:
        return fallback
    return datetime.combine(day, time(0), tzinfo=UTC)


def build_feed(
    fmt: str,
    info: FeedInfo,
    papers: Sequence[dict[str, Any]],
    *,
    base_url: str,
    now: datetime | None = None,
) -> bytes:
    """The feed document for these papers, in list order ('atom' or 'rss')."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown feed format {fmt!r}")
    now = now or datetime.now(UTC)
    base = base_url.rstrip("/")
    fg = FeedGenerator()
    fg.id(info.self_url)
    fg.title(xml_text(info.title))
    fg.subtitle(xml_text(info.description))
    # The alternate (HTML page) link goes last: RSS takes the channel <link> from it.
    fg.link(href=info.self_url, rel="self", type=FORMATS[fmt])
    fg.link(href=info.page_url, rel="alternate", type="text/html")
    fg.language("en")
    fg.generator("paperfeed")
    days = [p.get("day") for p in papers if p.get("day")]
    fg.updated(_moment(max(days), now) if days else now)
    # feedgen writes entries in reverse order of adding; add the last first.
    for paper in reversed(papers):
        url = f"{base}/papers/{paper['id']}"
        entry = fg.add_entry()
        entry.id(url)
        entry.guid(url, permalink=True)
        entry.title(xml_text(paper["title"]))
        entry.link(href=url, rel="alternate", type="text/html")
        when = _moment(paper.get("day"), now)
        entry.published(when)
        entry.updated(when)
        for name in list(paper.get("authors") or [])[:20]:
            entry.author({"name": xml_text(name)})
        if not paper.get("authors"):
            entry.author({"name": xml_text(byline(paper) or "unknown")})
        summary = xml_text(excerpt(paper.get("abstract") or "", sentences=3, limit=600))
        who = xml_text(byline(paper))
        text = " ".join(x for x in (f"{who}." if who else "", summary) if x)
        text = text or xml_text(paper["title"])
        if fmt == "atom":
            entry.summary(text, type="text")
        else:
            entry.description(html.escape(text, quote=False))
    if fmt == "atom":
        return fg.atom_str(pretty=True)
    return fg.rss_str(pretty=True)
