"""Atom and RSS 2.0 feeds of every list: daily/weekly/monthly, trending, a search,
an organisation, a topic of the topic map.

URLs end in `.atom` or `.rss`: /feeds/daily.atom, /feeds/trending.rss,
/feeds/search.atom?q=…(the search page's parameters), /feeds/orgs/<name>.atom,
/feeds/topics/<id>.atom.
`feed_links(request)` (a template global) gives the `<link rel="alternate">`
tags for the page being rendered; templates/feeds/_alternate.html prints them.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from paperfeed.app import Paperfeed
from paperfeed.delivery.feeds import FORMATS, FeedInfo, build_feed
from paperfeed.ranking import lists, topics
from paperfeed.web import finder
from paperfeed.web.deps import get_pf, parse_day, parse_flag, templates
from paperfeed.web.errors import BadRequest, NotFound

router = APIRouter(include_in_schema=False)
ITEMS = 50
MAX_QUERY = 500


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound("Feeds end in .atom or .rss.")
    return fmt


def _respond(pf: Paperfeed, request: Request, fmt: str, info: FeedInfo, papers: list) -> Response:
    body = build_feed(fmt, info, papers, base_url=pf.settings.base_url)
    return Response(
        body,
        media_type=f"{FORMATS[fmt]}; charset=utf-8",
        headers={"Cache-Control": "public, max-age=600"},
    )


def _url(pf: Paperfeed, path: str, params: dict[str, str] | None = None) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"{pf.settings.base_url.rstrip('/')}{path}{query}"


@router.get("/feeds/orgs/{name:path}.{fmt}")
def organization_feed(
    request: Request, name: str, fmt: str, pf: Paperfeed = Depends(get_pf)
) -> Response:
    """An organisation's newest papers."""
    fmt = _format(fmt)
    with pf.db.transaction() as conn:
        papers, total = lists.organization_papers(conn, name, limit=ITEMS)
    if not total:
        raise NotFound("No papers from this organisation.")
    info = FeedInfo(
        title=f"{name} papers · paperfeed",
        page_url=_url(pf, f"/orgs/{quote(name, safe='')}"),
        self_url=_url(pf, f"/feeds/orgs/{quote(name, safe='')}.{fmt}"),
        description=f"The newest papers from {name}.",
    )
    return _respond(pf, request, fmt, info, papers)


@router.get("/feeds/topics/{topic_id}.{fmt}")
def topic_feed(
    request: Request, topic_id: int, fmt: str, pf: Paperfeed = Depends(get_pf)
) -> Response:
    """A topic's newest papers."""
    fmt = _format(fmt)
    with pf.db.transaction() as conn:
        topic = topics.get_topic(conn, topic_id)
        if topic is None:
            raise NotFound("No such topic.")
        papers, _ = lists.topic_papers(conn, topic_id, limit=ITEMS)
    info = FeedInfo(
        title=f"{topic.label} · paperfeed topic",
        page_url=_url(pf, f"/topics/{topic_id}"),
        self_url=_url(pf, f"/feeds/topics/{topic_id}.{fmt}"),
        description=f"The newest papers in the topic {topic.label}.",
    )
    return _respond(pf, request, fmt, info, papers)


@router.get("/feeds/search.{fmt}")
def search_feed(
    request: Request,
    fmt: str,
    q: str = Query("", max_length=MAX_QUERY),
    date_from: str | None = None,
    date_to: str | None = None,
    organization: str | None = None,
    has_code: str | None = None,
    sort: str | None = None,
    pf: Paperfeed = Depends(get_pf),
) -> Response:
    """The results of any search, as the search page shows them (newest first by default):
    only results above the search's relevance cut-off; empty parameters are unset."""
    fmt = _format(fmt)
    sort = (sort or "").strip().lower() or "date"
    if not q.strip():
        raise BadRequest("A search feed needs a query: /feeds/search.atom?q=…")
    if sort not in finder.SORTS:
        raise BadRequest("sort must be relevance, date or upvotes.")
    query = finder.Query(
        q=q.strip(),
        date_from=parse_day(date_from),
        date_to=parse_day(date_to),
        organization=(organization or "").strip() or None,
        has_code=bool(parse_flag(has_code, "has_code")),
        sort=sort,
        per_page=ITEMS,
    )
    results = finder.search(pf, query)
    params = {k: v for k, v in request.query_params.items()}
    info = FeedInfo(
        title=f"“{query.q}” · paperfeed search",
        page_url=_url(pf, "/search", params),
        self_url=_url(pf, f"/feeds/search.{fmt}", params),
        description=f"Papers matching “{query.q}”.",
    )
    return _respond(pf, request, fmt, info, results.papers)


@router.get("/feeds/{name}.{fmt}")
def list_feed(request: Request, name: str, fmt: str, pf: Paperfeed = Depends(get_pf)) -> Response:
    """The newest daily/weekly/monthly list, or trending papers."""
    fmt = _format(fmt)
    with pf.db.transaction() as conn:
        if name == "trending":
            papers = lists.trending(conn, limit=ITEMS)
            page, what = "/trending", "Trending papers"
        elif name in lists.PERIODS:
            day = lists.latest_day(conn)
            papers = []
            if day is not None:
                span = lists.period_of(name, day)
                papers, _ = lists.papers_in_period(conn, span, limit=ITEMS)
            page = "/" if name == "daily" else f"/?period={name}"
            what = f"{name.capitalize()} papers"
        else:
            raise NotFound("Unknown feed: use daily, weekly, monthly or trending.")
    info = FeedInfo(
        title=f"{what} · paperfeed",
        page_url=_url(pf, page),
        self_url=_url(pf, f"/feeds/{name}.{fmt}"),
        description=f"{what}, most upvoted first.",
    )
    return _respond(pf, request, fmt, info, papers)


def feed_links(request: Request) -> list[dict[str, str]]:
    """The feeds that mirror the page being shown ({title, type, href} for <link rel=alternate>)."""
    path = request.url.path
    params = request.query_params
    if path == "/":
        name = params.get("period", "daily")
        name = name if name in lists.PERIODS else "daily"
        base, title = f"/feeds/{name}", f"{name.capitalize()} papers"
    elif path == "/trending":
        base, title = "/feeds/trending", "Trending papers"
    elif path == "/search" and params.get("q", "").strip():
        keep = {k: v for k, v in params.items() if k != "page"}
        query = "?" + urlencode(keep)
        return [
            {
                "title": f"Search: {params['q']} ({fmt})",
                "type": FORMATS[fmt],
                "href": f"/feeds/search.{fmt}{query}",
            }
            for fmt in FORMATS
        ]
    elif path.startswith("/topics/") and path[len("/topics/") :].isdigit():
        base, title = f"/feeds{path}", "Papers of this topic"
    elif path.startswith("/orgs/") and len(path) > len("/orgs/"):
        name = quote(path[len("/orgs/") :], safe="")
        base, title = f"/feeds/orgs/{name}", "Papers of this organisation"
    else:
        base, title = "/feeds/trending", "Trending papers"
    return [
        {"title": f"{title} ({fmt})", "type": FORMATS[fmt], "href": f"{base}.{fmt}"}
        for fmt in FORMATS
    ]


def rss_link(request: Request) -> str:
    """The RSS feed that mirrors the page being shown (for its "RSS" button)."""
    return next(f["href"] for f in feed_links(request) if f["type"] == FORMATS["rss"])


templates.env.globals["feed_links"] = feed_links
templates.env.globals["rss_link"] = rss_link
