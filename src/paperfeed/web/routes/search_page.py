"""The search page and /api/search: keyword (or hybrid) search with filters and snippets."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.app import Paperfeed
from paperfeed.catalogue.accounts import User
from paperfeed.web import finder
from paperfeed.web.deps import (
    current_user,
    get_pf,
    library_states,
    parse_day,
    parse_flag,
    parse_int,
    render,
    voted_ids,
)
from paperfeed.web.errors import BadRequest
from paperfeed.web.schemas import (
    API_ERRORS,
    PaperOut,
    SearchHit,
    SearchResults,
    choice_query,
    day_query,
    flag_query,
    int_query,
)

router = APIRouter()
MAX_QUERY = 500


def _query(
    q: str | None,
    date_from: str | None,
    date_to: str | None,
    organization: str | None,
    has_code: str | None,
    min_upvotes: str | None,
    sort: str | None,
    page: str | None,
    per_page: str | None,
    *,
    api: bool = False,
) -> finder.Query:
    """The search parameters as the page and the API take them: every one a string
    (an empty field, as a submitted form sends it, means unset), checked here."""
    q = q or ""
    if len(q) > MAX_QUERY:
        raise BadRequest(f"Queries are limited to {MAX_QUERY} characters.")
    sort = (sort or "").strip().lower() or "relevance"
    if sort not in finder.SORTS:
        raise BadRequest("sort must be relevance, date or upvotes.")
    return finder.Query(
        q=q.strip(),
        date_from=parse_day(date_from, clamp=api),
        date_to=parse_day(date_to, clamp=api),
        organization=(organization or "").strip() or None,
        has_code=bool(parse_flag(has_code, "has_code")),
        min_upvotes=parse_int(min_upvotes, "min_upvotes", 0, 1_000_000),
        sort=sort,
        page=parse_int(page, "page", 1, 100) or 1,
        per_page=parse_int(per_page, "per_page", 1, 100) or 20,
    )


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request,
    q: str = "",
    date_from: str | None = None,
    date_to: str | None = None,
    organization: str | None = None,
    has_code: str | None = None,
    min_upvotes: str | None = None,
    sort: str | None = None,
    page: str | None = None,
    pf: Paperfeed = Depends(get_pf),
    user: User | None = Depends(current_user),
) -> Response:
    """Search form and results (empty and no-result states included)."""
    query = _query(q, date_from, date_to, organization, has_code, min_upvotes, sort, page, "20")
    results = finder.search(pf, query) if query.q else finder.Results()
    if results.paper_id is not None:  # an arXiv id or DOI: straight to the paper
        return RedirectResponse(f"/papers/{results.paper_id}", status_code=303)
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
    responses=API_ERRORS,
)
def api_search(
    # At least one letter or digit (index.search.check_query refuses a query without).
    q: str = Query(..., min_length=1, max_length=MAX_QUERY, pattern=r"[^\W_]"),
    date_from: str | None = day_query("YYYY-MM-DD, inclusive; empty = unset"),
    date_to: str | None = day_query("YYYY-MM-DD, inclusive; empty = unset"),
    organization: str | None = Query(None, description="prefix or word of the name, any case"),
    has_code: str | None = flag_query("true/1/on: only papers with code"),
    min_upvotes: str | None = int_query(0, 1_000_000, "empty = unset"),
    sort: str | None = choice_query(finder.SORTS, "default relevance"),
    page: str | None = int_query(1, 100, "default 1"),
    per_page: str | None = int_query(1, 100, "default 20"),
    pf: Paperfeed = Depends(get_pf),
) -> SearchResults:
    """Search papers; snippets wrap matched words in <mark>…</mark> (escape everything else)."""
    query = _query(
        q, date_from, date_to, organization, has_code, min_upvotes, sort, page, per_page, api=True
    )
    results = finder.search(pf, query) if query.q else finder.Results()
    hits = [
        SearchHit(
            **PaperOut.of(r).model_dump(),
            title_html=str(r["title_html"]),
            snippet_html=str(r["snippet_html"]),
            score=round(r["score"], 6),
            relevance=round(r["relevance"] or 0.0, 4),
        )
        for r in results.papers
    ]
    return SearchResults(
        query=query.q,
        total=results.total,
        page=query.page,
        per_page=query.per_page,
        engine=results.engine,
        semantic=results.semantic,
        cutoff=results.cutoff,
        results=hits,
    )
