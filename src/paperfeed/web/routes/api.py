"""The JSON API under /api/: lists, trending, papers, similar papers, votes, submissions."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Query
from fastapi.responses import RedirectResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.catalogue.accounts import User
from paperfeed.catalogue.citation import bibtex
from paperfeed.ranking import lists
from paperfeed.web import cached, finder
from paperfeed.web.deps import csrf_protect, current_user, get_pf, parse_day, require_user
from paperfeed.web.errors import BadRequest, Conflict, NotFound, TooManyRequests
from paperfeed.web.routes.papers import MAX_ID, arxiv_redirect
from paperfeed.web.schemas import (
    API_ERRORS,
    Me,
    OrganizationList,
    PaperDetail,
    PaperList,
    PaperOut,
    PeriodList,
    SubmissionIn,
    SubmissionOut,
    TrendingList,
    TrendingPaper,
    VoteResult,
    day_query,
)

router = APIRouter(prefix="/api", responses=API_ERRORS)
PAPERS = ["papers"]
PaperId = int


def _check_id(paper_id: int) -> None:
    if not 0 < paper_id <= MAX_ID:
        raise NotFound("There is no paper with this id.")


@router.get("/papers", response_model=PeriodList, tags=PAPERS)
def list_papers(
    period: str = Query("daily", pattern="^(daily|weekly|monthly)$"),
    date: str | None = day_query("YYYY-MM-DD; default: newest day with papers"),
    page: int = Query(1, ge=1, le=1000),
    per_page: int = Query(50, ge=1, le=200),
    pf: Paperfeed = Depends(get_pf),
) -> PeriodList:
    """Papers of a day, ISO week or month, most upvoted first."""
    with pf.db.transaction() as conn:
        day = parse_day(date, clamp=True) or lists.latest_day(conn)
        if day is None:
            raise NotFound("The catalogue is empty.")
        span = lists.period_of(period, day)
        rows, total = lists.papers_in_period(
            conn, span, limit=per_page, offset=(page - 1) * per_page
        )
        prev_day, next_day = lists.neighbours(conn, span)
    return PeriodList(
        period=period,
        start=span.start,
        end=span.end - timedelta(days=1),
        label=span.label,
        previous=prev_day,
        next=next_day,
        total=total,
        page=page,
        per_page=per_page,
        papers=[PaperOut.of(r) for r in rows],
    )


@router.get("/trending", response_model=TrendingList, tags=PAPERS)
def trending(limit: int = Query(50, ge=1, le=200), pf: Paperfeed = Depends(get_pf)) -> TrendingList:
    """Papers by trending score: upvotes / (age_hours + 2) ** 1.5."""
    with pf.db.transaction() as conn:
        rows = cached.trending(conn, pf.db.url, limit=limit)
    return TrendingList(
        papers=[TrendingPaper(**PaperOut.of(r).model_dump(), score=r["score"]) for r in rows]
    )


@router.get("/papers/{arxiv_id:arxiv}", include_in_schema=False)
def get_paper_by_arxiv_id(arxiv_id: str, pf: Paperfeed = Depends(get_pf)) -> RedirectResponse:
    """/api/papers/2401.05566: redirect to /api/papers/<id>."""
    return arxiv_redirect(pf, arxiv_id, "/api")


@router.get("/papers/{paper_id}", response_model=PaperDetail, tags=PAPERS)
def get_paper(
    paper_id: PaperId, pf: Paperfeed = Depends(get_pf), user: User | None = Depends(current_user)
) -> PaperDetail:
    """One paper with its sources, BibTeX and whether the caller upvoted it."""
    _check_id(paper_id)
    with pf.db.transaction() as conn:
        row = lists.get_paper(conn, paper_id)
        if row is None or (row["hidden"] and not (user and user.is_admin)):
            raise NotFound("There is no paper with this id.")
        voted = bool(user) and paper_id in accounts.voted_papers(conn, user.id, [paper_id])
    return PaperDetail(
        **PaperOut.of(row).model_dump(),
        doi=row["doi"],
        categories=row["categories"],
        sources=row["sources"],
        bibtex=bibtex(row),
        voted=voted,
    )


@router.get("/papers/{paper_id}/similar", response_model=PaperList, tags=PAPERS)
def similar(
    paper_id: PaperId, limit: int = Query(10, ge=1, le=50), pf: Paperfeed = Depends(get_pf)
) -> PaperList:
    """Papers similar to this one (itself excluded)."""
    _check_id(paper_id)
    with pf.db.transaction() as conn:
        if not lists.paper_exists(conn, paper_id):
            raise NotFound("There is no paper with this id.")
    return PaperList(papers=[PaperOut.of(r) for r in finder.similar(pf, paper_id, limit)])


def _vote(pf: Paperfeed, user: User, paper_id: int, add: bool) -> VoteResult:
    _check_id(paper_id)
    with pf.db.transaction() as conn:
        if not lists.paper_exists(conn, paper_id):
            raise NotFound("There is no paper with this id.")
        if add:
            accounts.record_vote(conn, user.id, paper_id)
        else:
            accounts.remove_vote(conn, user.id, paper_id)
        count = lists.upvote_count(conn, paper_id)
    return VoteResult(paper_id=paper_id, voted=add, upvotes=count)


@router.post(
    "/papers/{paper_id}/vote",
    response_model=VoteResult,
    dependencies=[Depends(csrf_protect)],
    tags=PAPERS,
)
def upvote(
    paper_id: PaperId, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> VoteResult:
    """Upvote a paper (idempotent: a second upvote by the same user changes nothing)."""
    return _vote(pf, user, paper_id, True)


@router.delete(
    "/papers/{paper_id}/vote",
    response_model=VoteResult,
    dependencies=[Depends(csrf_protect)],
    tags=PAPERS,
)
def remove_upvote(
    paper_id: PaperId, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> VoteResult:
    """Take an upvote back (idempotent)."""
    return _vote(pf, user, paper_id, False)


@router.get("/orgs/{name:path}", response_model=OrganizationList, tags=PAPERS)
def organization(
    name: str,
    page: int = Query(1, ge=1, le=1000),
    per_page: int = Query(50, ge=1, le=200),
    pf: Paperfeed = Depends(get_pf),
) -> OrganizationList:
    """An organisation's papers, newest first."""
    with pf.db.transaction() as conn:
        rows, total = lists.organization_papers(
            conn, name, limit=per_page, offset=(page - 1) * per_page
        )
    if total == 0:
        raise NotFound("No papers from this organisation.")
    papers = [PaperOut.of(r) for r in rows]
    return OrganizationList(name=name, total=total, page=page, per_page=per_page, papers=papers)


@router.post(
    "/submissions",
    response_model=SubmissionOut,
    status_code=201,
    dependencies=[Depends(csrf_protect)],
    tags=PAPERS,
)
def submit(
    body: SubmissionIn, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> SubmissionOut:
    """Queue an arXiv paper for import; 409 when it is already known or queued."""
    try:
        with pf.db.transaction() as conn:
            row = accounts.submit_arxiv(conn, user.id, body.arxiv_id)
    except accounts.AlreadyKnown as exc:
        raise Conflict(str(exc)) from None
    except accounts.SubmissionLimit as exc:
        raise TooManyRequests(str(exc), headers={"Retry-After": "3600"}) from None
    except accounts.AccountError as exc:
        raise BadRequest(str(exc)) from None
    return SubmissionOut(
        id=row["id"],
        arxiv_id=row["arxiv_id"],
        status=row["status"],
        paper_id=row["paper_id"],
        message="queued for import",
    )


@router.get("/me", response_model=Me, tags=["account"])
def me(user: User = Depends(require_user)) -> Me:
    """The signed-in user (401 otherwise)."""
    return Me(id=user.id, email=user.email, display_name=user.display_name)
