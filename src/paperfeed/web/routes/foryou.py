"""The for-you page, its cold start (pick topics), its private Atom feed and its JSON API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.app import Paperfeed
from paperfeed.catalogue import library
from paperfeed.catalogue.accounts import User
from paperfeed.delivery.feeds import FORMATS, FeedInfo, build_feed
from paperfeed.ranking import lists, recommend, topic_trends, topics
from paperfeed.web.deps import (
    NAV_LINKS,
    csrf_protect,
    get_pf,
    render,
    require_user,
    voted_ids,
)
from paperfeed.web.errors import BadRequest, NotFound
from paperfeed.web.schemas import API_ERRORS

router = APIRouter()
NAV_LINKS.append(("For you", "/for-you", "foryou"))
PAGE = 30
FEED_ITEMS = 50
# Windows counted back from the newest paper in the catalogue.
WINDOWS = {"week": 7, "month": 31, "year": 366, "all": None}


def _since(conn, window: str) -> date | None:
    if window not in WINDOWS:
        raise BadRequest("window must be week, month, year or all.")
    days = WINDOWS[window]
    newest = topic_trends.newest_day(conn)
    return newest - timedelta(days=days) if days and newest else None


def _cards(conn, user: User, picks: list[recommend.Pick]) -> list[dict]:
    # The list pages' card fields (links, summary, key phrases, comments): the same card.
    papers = lists.papers_by_ids(conn, [p.paper_id for p in picks])
    by_id = {p["id"]: p for p in papers}
    return [{"paper": by_id[p.paper_id], "pick": p} for p in picks if p.paper_id in by_id]


@router.get("/for-you", include_in_schema=False)
def for_you_page(
    request: Request,
    window: str = "year",
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    with pf.db.transaction() as conn:
        picks = recommend.picks(conn, user.id, PAGE, _since(conn, window))
        cards = _cards(conn, user, picks)
        saved = library.count_items(conn, user.id)
        profile_size = len(recommend.refresh_profile(conn, user.id))
        topic_list = topics.list_topics(conn) if not profile_size else []
        token = recommend.feed_token(conn, pf.secret_key, user.id)
        voted = voted_ids(conn, user, [c["paper"] for c in cards])
        states = library.states(conn, user.id, [c["paper"]["id"] for c in cards])
    feed_url = f"{pf.settings.base_url.rstrip('/')}/for-you/feed.atom?token={token}"
    return render(
        request,
        "foryou/page.html",
        {
            "nav": "foryou",
            "cards": cards,
            "window": window,
            "windows": list(WINDOWS),
            "saved": saved,
            "cold": not profile_size,
            "topics": topic_list,
            "feed_url": feed_url,
            "voted": voted,
            "states": states,
        },
    )


@router.post("/for-you/topics", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def pick_topics(
    topic: list[int] = Form(default=[]),
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
):
    if not topic:
        raise BadRequest("Pick at least one topic.")
    with pf.db.transaction() as conn:
        recommend.pick_topics(conn, user.id, topic[:20])
    return RedirectResponse("/for-you", status_code=303)


@router.post("/for-you/feed-token", include_in_schema=False, dependencies=[Depends(csrf_protect)])
def rotate_token(user: User = Depends(require_user), pf: Paperfeed = Depends(get_pf)):
    with pf.db.transaction() as conn:
        recommend.rotate_feed_token(conn, user.id)
    return RedirectResponse("/for-you", status_code=303)


@router.get("/for-you/feed.{fmt}", include_in_schema=False)
def for_you_feed(
    fmt: str, token: str = Query(..., max_length=100), pf: Paperfeed = Depends(get_pf)
) -> Response:
    """The for-you feed for a feed reader: the private token stands in for the session."""
    if fmt not in FORMATS:
        raise NotFound("Feeds end in .atom or .rss.")
    with pf.db.transaction() as conn:
        user_id = recommend.feed_user(conn, pf.secret_key, token)
        if user_id is None:
            raise NotFound("Unknown or revoked feed token.")
        picks = recommend.picks(conn, user_id, FEED_ITEMS)
        papers = library.papers_by_ids(conn, [p.paper_id for p in picks])
    reasons = {p.paper_id: p.reason for p in picks}
    for paper in papers:
        paper["day"] = paper.get("listed_on") or paper.get("published_on")
        paper["abstract"] = f"Why: {reasons[paper['id']]}. {paper.get('abstract') or ''}"
    base = pf.settings.base_url.rstrip("/")
    info = FeedInfo(
        title="For you · paperfeed",
        page_url=f"{base}/for-you",
        self_url=f"{base}/for-you/feed.{fmt}?token={token}",
        description="Papers picked for you from your library, votes and feedback.",
    )
    body = build_feed(fmt, info, papers, base_url=base)
    # Private: never cached by a shared proxy.
    return Response(
        body,
        media_type=f"{FORMATS[fmt]}; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


@router.get("/api/for-you", responses=API_ERRORS)
def api_for_you(
    limit: int = Query(20, ge=1, le=100),
    window: Literal["week", "month", "year", "all"] = "all",
    user: User = Depends(require_user),
    pf: Paperfeed = Depends(get_pf),
) -> dict:
    """The signed-in user's for-you picks with the reason for each."""
    with pf.db.transaction() as conn:
        picks = recommend.picks(conn, user.id, limit, _since(conn, window))
        papers = {p["id"]: p for p in library.papers_by_ids(conn, [p.paper_id for p in picks])}
    return {
        "picks": [
            {
                "paper_id": p.paper_id,
                "title": papers[p.paper_id]["title"],
                "score": round(p.score, 4),
                "reason": p.reason,
                "reason_kind": p.reason_kind,
                "reason_paper_id": p.reason_paper_id,
            }
            for p in picks
            if p.paper_id in papers
        ]
    }
