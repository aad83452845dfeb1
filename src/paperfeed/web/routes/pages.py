"""Browsing pages: home (daily/weekly/monthly lists), trending, about, organisations."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue import follows
from paperfeed.ranking import lists
from paperfeed.web import cached
from paperfeed.web.deps import (
    current_user,
    get_pf,
    library_states,
    parse_day,
    render,
    shared_page,
    voted_ids,
)
from paperfeed.web.errors import BadRequest, NotFound

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    period: str = "daily",
    date: str | None = None,
    page: int = Query(1, ge=1, le=1000),
    pf: Paperfeed = Depends(get_pf),
    user=Depends(current_user),
) -> HTMLResponse:
    """Papers of a day, week or month; without a date, the newest day that has papers."""
    if period not in lists.PERIODS:
        raise BadRequest("period must be daily, weekly or monthly.")

    def build() -> HTMLResponse:
        with pf.db.transaction() as conn:
            day = parse_day(date) or lists.latest_day(conn)
            if day is None:
                return render(request, "home.html", {"empty_catalogue": True, "nav": "daily"})
            span = lists.period_of(period, day)
            papers, total = lists.papers_in_period(
                conn, span, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
            )
            prev_day, next_day = lists.neighbours(conn, span)
            context = {
                "nav": "daily",
                "period": period,
                "span": span,
                "day": day,
                "papers": papers,
                "total": total,
                "page": page,
                "pages": max(1, math.ceil(total / PER_PAGE)),
                "prev_day": prev_day,
                "next_day": next_day,
                "voted": voted_ids(conn, user, papers),
                "states": library_states(conn, user, papers),
                "rising": cached.rising_topics(conn, pf.db.url),
            }
        return render(request, "home.html", context)

    return shared_page(request, build)


@router.get("/trending", response_class=HTMLResponse)
def trending(
    request: Request, pf: Paperfeed = Depends(get_pf), user=Depends(current_user)
) -> HTMLResponse:
    """The trending list (formula on /about)."""

    def build() -> HTMLResponse:
        with pf.db.transaction() as conn:
            papers = cached.trending(conn, pf.db.url, limit=PER_PAGE)
            voted = voted_ids(conn, user, papers)
        context = {"nav": "trending", "papers": papers, "voted": voted}
        return render(request, "trending.html", context)

    return shared_page(request, build)


@router.get("/about", response_class=HTMLResponse)
def about(request: Request) -> HTMLResponse:
    """What paperfeed is and how trending is computed."""
    return render(
        request,
        "about.html",
        {
            "gravity": lists.GRAVITY,
            "offset": lists.AGE_OFFSET_HOURS,
            "window": lists.TRENDING_WINDOW,
            "ttl": int(cached.TRENDING_TTL),
        },
    )


@router.get("/orgs", response_class=HTMLResponse)
def organizations(request: Request, pf: Paperfeed = Depends(get_pf)) -> HTMLResponse:
    """Every organisation with papers here."""
    with pf.db.transaction() as conn:
        orgs = lists.organizations(conn)
    return render(request, "orgs.html", {"orgs": orgs})


@router.get("/orgs/{name:path}", response_class=HTMLResponse)
def organization(
    request: Request,
    name: str,
    page: int = Query(1, ge=1, le=1000),
    pf: Paperfeed = Depends(get_pf),
    user=Depends(current_user),
) -> HTMLResponse:
    """One organisation's papers, newest first."""

    def build() -> HTMLResponse:
        with pf.db.transaction() as conn:
            papers, total = lists.organization_papers(
                conn, name, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
            )
            if total == 0:
                raise NotFound("No papers from this organisation.")
            voted = voted_ids(conn, user, papers)
            followed = bool(user) and follows.follows_org(conn, user.id, name)
        context = {
            "name": name,
            "papers": papers,
            "total": total,
            "page": page,
            "pages": max(1, math.ceil(total / PER_PAGE)),
            "voted": voted,
            "followed": followed,
        }
        return render(request, "org.html", context)

    return shared_page(request, build)
