"""Search results as the pages show them: paper fields, upvotes and safe highlighted snippets.

ts_headline marks matches with two private-use characters (the catalogue's
clean_text drops every such character, so they never occur in stored text).
The marked text is HTML-escaped in Python and only then are the markers turned
into <mark> tags: a title like `<script>` is shown, never run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from paperfeed.catalogue.moderation import VISIBLE

# Shown upvotes: the largest count a source reported plus the votes cast here.
UPVOTES = "(p.imported_upvotes + (SELECT count(*) FROM votes v WHERE v.paper_id = p.id))"

START, STOP = "\ue000", "\ue001"
_TITLE_OPTIONS = f"HighlightAll=true, StartSel={START}, StopSel={STOP}"
_ABSTRACT_OPTIONS = (
    f'MaxWords=45, MinWords=20, MaxFragments=2, FragmentDelimiter=" … ",'
    f" StartSel={START}, StopSel={STOP}"
)
# Without a keyword query (semantic-only or similar papers) the snippet is the abstract's start.
PLAIN_SNIPPET = 300


@dataclass
class Hit:
    """One search result: the paper, its score and HTML-safe highlighted title and snippet."""

    id: int
    arxiv_id: str | None
    title: str
    abstract: str
    authors: list[str]
    author_count: int | None
    organization: str | None
    published_on: date | None
    listed_on: date | None
    github_url: str | None
    upvotes: int
    score: float
    title_html: str
    snippet_html: str
    # Calibrated probability that the paper is relevant to the query (search only).
    relevance: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (dates as ISO strings)."""
        out = dict(self.__dict__)
        for key in ("published_on", "listed_on"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def marked_to_html(text: str) -> str:
    """Escape text for HTML, then turn the highlight markers into <mark> tags."""
    escaped = html.escape(text, quote=True)
    return escaped.replace(START, "<mark>").replace(STOP, "</mark>")


def _plain_snippet(abstract: str) -> str:
    if len(abstract) <= PLAIN_SNIPPET:
        return abstract
    cut = abstract[:PLAIN_SNIPPET].rsplit(" ", 1)[0]
    return cut + " …"


def fetch_hits(conn: psycopg.Connection, ids: list[int], highlight: str | None) -> list[Hit]:
    """The papers `ids` in that order, with matches of the tsquery `highlight` marked."""
    if not ids:
        return []
    if highlight:
        marks = (
            "ts_headline('english', p.title, %(hq)s::tsquery, %(topt)s) AS title_marked,"
            " ts_headline('english', p.abstract, %(hq)s::tsquery, %(aopt)s) AS abstract_marked"
        )
    else:
        marks = "p.title AS title_marked, NULL AS abstract_marked"
    rows = conn.execute(
        # Only constant SQL fragments are concatenated; every value is a parameter.
        "SELECT p.id, p.arxiv_id, p.title, p.abstract, p.authors, p.author_count,"  # noqa: S608
        " p.organization, p.published_on, p.listed_on, p.github_url,"
        f" {UPVOTES} AS upvotes, {marks}"
        f" FROM papers p WHERE p.id = ANY(%(ids)s) AND {VISIBLE}",
        {"ids": ids, "hq": highlight, "topt": _TITLE_OPTIONS, "aopt": _ABSTRACT_OPTIONS},
    ).fetchall()
    by_id = {r["id"]: r for r in rows}
    hits = []
    for pid in ids:
        r = by_id.get(pid)
        if r is None:  # deleted or hidden between ranking and fetching
            continue
        snippet = r["abstract_marked"]
        if not snippet or START not in snippet:
            snippet = _plain_snippet(r["abstract"])
        hits.append(
            Hit(
                id=r["id"],
                arxiv_id=r["arxiv_id"],
                title=r["title"],
                abstract=r["abstract"],
                authors=list(r["authors"]),
                author_count=r["author_count"],
                organization=r["organization"],
                published_on=r["published_on"],
                listed_on=r["listed_on"],
                github_url=r["github_url"],
                upvotes=int(r["upvotes"]),
                score=0.0,
                title_html=marked_to_html(r["title_marked"].strip()),
                snippet_html=marked_to_html(snippet.strip()),
            )
        )
    return hits
