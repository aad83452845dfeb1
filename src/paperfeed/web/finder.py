"""Search and similar papers for the web app, through `paperfeed.index.search`.

`paperfeed.index.search` (hybrid keyword + semantic search) does the work; the
sentence embedder comes from `paperfeed.index.embed` when that module and its model
load, otherwise searches are keyword-only. If the search module itself is
missing, the plain full-text fallback in `ranking` keeps the page working.
Each result is a dict with the card fields plus `title_html` and
`snippet_html`: escaped HTML in which only <mark> tags are live.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from markupsafe import Markup

from paperfeed.app import Paperfeed
from paperfeed.index import search as hybrid
from paperfeed.ranking import lists
from paperfeed.web.errors import BadRequest, NotFound, WebError

log = logging.getLogger("paperfeed.web")
SORTS = ("relevance", "date", "upvotes")
# One embedder per model name for the whole process, once it is ready (None: the
# model cannot load, search stays keyword-only). Names being prepared are in
# _preparing: loading takes seconds and the first export up to a minute or more,
# which happens in a background thread, never inside a request.
_embedders: dict[str, Any] = {}
_preparing: set[str] = set()
_embedder_lock = threading.Lock()

# What `model_status` reports (the API's `semantic` field).
READY, PREPARING, UNAVAILABLE = "ready", "preparing", "unavailable"


@dataclass(frozen=True)
class Query:
    """What the search page and /api/search accept."""

    q: str
    date_from: date | None = None
    date_to: date | None = None
    organization: str | None = None
    has_code: bool = False
    min_upvotes: int | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20


@dataclass
class Results:
    """One page of results (card dicts with title_html/snippet_html) and the total count."""

    papers: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    engine: str = "keyword"
    # Why a search is keyword-only: READY (it is not), PREPARING or UNAVAILABLE.
    semantic: str = READY
    cutoff: float = hybrid.CUTOFF
    # (organisation, relevant results from it), most first.
    organizations: list[tuple[str, int]] = field(default_factory=list)
    # Set when the query was an identifier (arXiv id, DOI) of this paper.
    paper_id: int | None = None


def embedder(pf: Paperfeed) -> Any | None:
    """The query embedder of this process if it is ready, else None (keyword-only).

    The first call starts preparing the model in the background; searches are
    keyword-only until it is ready, and none of them waits for it.
    """
    key = pf.settings.embedding_model
    with _embedder_lock:
        if key in _embedders:
            return _embedders[key]
        if key not in _preparing:
            _preparing.add(key)
            threading.Thread(
                target=_prepare, args=(pf, key), name="prepare-model", daemon=True
            ).start()
    return None


def prepare_in_background(pf: Paperfeed) -> None:
    """Start preparing the search model now (at app start-up), without waiting."""
    embedder(pf)


def model_status(pf: Paperfeed) -> str:
    """READY, PREPARING or UNAVAILABLE for the configured model in this process."""
    key = pf.settings.embedding_model
    with _embedder_lock:
        if key in _embedders:
            return READY if _embedders[key] is not None else UNAVAILABLE
        return PREPARING


def _prepare(pf: Paperfeed, key: str) -> None:
    try:
        model = pf.embedder()
        log.info("preparing embedding model %s; search is keyword-only until it is ready", key)
        model.prepare()
    except Exception:  # a missing model must not take search down: keyword-only then
        log.exception("embedding model %s unavailable; search is keyword-only", key)
        model = None
    else:
        log.info("embedding model %s ready: search is hybrid", key)
    with _embedder_lock:
        _embedders[key] = model
        _preparing.discard(key)


def _hit_dict(hit: Any) -> dict[str, Any]:
    row = dict(hit.__dict__)
    row["day"] = hit.listed_on or hit.published_on
    row["title_html"] = Markup(hit.title_html)
    row["snippet_html"] = Markup(hit.snippet_html)
    return row


def _raise(exc: Exception) -> WebError:
    status = getattr(exc, "status", 400)
    return NotFound(str(exc)) if status == 404 else BadRequest(str(exc))


def search(pf: Paperfeed, query: Query) -> Results:
    """Run a search with the best engine available."""
    filters = hybrid.Filters(
        date_from=query.date_from,
        date_to=query.date_to,
        organization=query.organization,
        has_code=True if query.has_code else None,
        min_upvotes=query.min_upvotes,
    )
    with pf.db.transaction() as conn:
        named = hybrid.identifier_paper(conn, query.q)
        hits = hybrid.fetch_hits(conn, [named], None) if named is not None else []
    if named is not None:
        for hit in hits:
            hit.score = hit.relevance = 1.0
        cards = _with_extras(pf, [_hit_dict(h) for h in hits])
        return Results(cards, len(cards), "identifier", paper_id=named)
    model = embedder(pf)
    try:
        found = hybrid.search(
            pf.db, model, query.q, filters, query.sort, query.page, query.per_page
        )
    except hybrid.SearchError as exc:
        raise _raise(exc) from None
    engine = "hybrid" if model is not None else "keyword"
    status = READY if model is not None else model_status(pf)
    cards = _with_extras(pf, [_hit_dict(h) for h in found.hits])
    return Results(cards, found.total, engine, status, found.cutoff, found.organizations)


def _with_extras(pf: Paperfeed, cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the community fields (links, summary, key phrases, comments) to result cards."""
    if cards:
        with pf.db.transaction() as conn:
            extras = lists.card_extras(conn, [c["id"] for c in cards])
        for card in cards:
            card.update(extras.get(card["id"], {}))
    return cards


def similar(pf: Paperfeed, paper_id: int, limit: int) -> list[dict[str, Any]]:
    """Papers like this one: nearest embeddings when available, else shared title words."""
    try:
        return [_hit_dict(h) for h in hybrid.similar(pf.db, paper_id, limit)]
    except hybrid.SearchError as exc:
        raise _raise(exc) from None
