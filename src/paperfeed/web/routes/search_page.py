"""The search page and /api/search: keyword (or hybrid) search with filters and snippets."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue.accounts import User
from paperfeed.web import finder
from paperfeed.web.deps import (
    current_user,
    get_pf,
    library_states,
    parse_day,
    render,
    voted_ids,
)
from paperfeed.web.errors import BadRequest
from paperfeed.web.schemas import ErrorOut, PaperOut, SearchHit, SearchResults

router = APIRouter()
MAX_QUERY = 500


def _query(
    q: str,
    date_from: str | None,
    date_to: str | None,
    organization: str | None,
    has_code: bool,
    min_upvotes: int | None,
    sort: str,
    page: int,
    per_page: int,
) -> finder.Query:
    if len(q) > MAX_QUERY:
        raise BadRequest(f"Queries are limited to {MAX_QUERY} characters.")
    if sort not in finder.SORTS:
        raise BadRequest("sort must be relevance, date or upvotes.")
    return finder.Query(
        q=q.strip(),
        date_from=parse_day(date_from),
        date_to=parse_day(date_to),
        organization=(organization or "").strip() or None,
        has_code=has_code,
        min_upvotes=min_upvotes or None,
        sort=sort,
        page=page,
        per_page=per_page,
    )


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request,
    q: str = "",
    date_from: str | None = None,
    date_to: str | None = None,
    organization: str | None = None,
    has_code: bool = False,
    min_upvotes: int | None = Query(None, ge=0, le=1_000_000),
    sort: str = "relevance",
    page: int = Query(1, ge=1, le=100),
    pf: Paperfeed = Depends(get_pf),
    user: User | None = Depends(current_user),
) -> HTMLResponse:
    """Search form and results (empty and no-result states included)."""
    query = _query(q, date_from, date_to, organization, has_code, min_upvotes, sort, page, 20)
    results = finder.search(pf, query) if query.q else finder.Results()
    with pf.db.transaction() as conn:
        voted = voted_ids(conn, user, results.papers)
        states = library_states(conn, user, results.papers)
    return render(
        request,
        "search.html",
        {
            "nav": "search",
            "query": query,
            "header_query": query.q,
            "results": results,
            "voted": voted,
            "states": states,
            "pages": max(1, math.ceil(results.total / query.per_page)),
        },
    )


@router.get(
    "/api/search",
    response_model=SearchResults,
    summary="Search papers",
    tags=["papers"],
    responses={s: {"model": ErrorOut} for s in (400, 422)},
)
def api_search(
    q: str = Query(..., min_length=1, max_length=MAX_QUERY),
    date_from: str | None = Query(None, description="YYYY-MM-DD, inclusive"),
    date_to: str | None = Query(None, description="YYYY-MM-DD, inclusive"),
    organization: str | None = None,
    has_code: bool = False,
    min_upvotes: int | None = Query(None, ge=0, le=1_000_000),
    sort: str = Query("relevance", pattern="^(relevance|date|upvotes)$"),
    page: int = Query(1, ge=1, le=100),
    per_page: int = Query(20, ge=1, le=100),
    pf: Paperfeed = Depends(get_pf),
) -> SearchResults:
    """Search papers; snippets wrap matched words in <mark>…</mark> (escape everything else)."""
    query = _query(q, date_from, date_to, organization, has_code, min_upvotes, sort, page, per_page)
    results = finder.search(pf, query) if query.q else finder.Results()
    hits = [
        SearchHit(
            **PaperOut.of(r).model_dump(),
            title_html=str(r["title_html"]),
            snippet_html=str(r["snippet_html"]),
        )
        for r in results.papers
    ]
    return SearchResults(
        query=query.q,
        total=results.total,
        page=page,
        per_page=per_page,
        engine=results.engine,
        semantic=results.semantic,
        results=hits,
    )
