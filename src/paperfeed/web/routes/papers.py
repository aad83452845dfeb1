"""The paper page, its BibTeX, and the no-JavaScript vote form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.convertors import Convertor, register_url_convertor

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts, comments, moderation
from paperfeed.catalogue.accounts import User
from paperfeed.catalogue.citation import bibtex
from paperfeed.catalogue.papers import paper_id_for_arxiv
from paperfeed.model import normalise_arxiv_id
from paperfeed.ranking import lists
from paperfeed.web import finder
from paperfeed.web.deps import (
    csrf_protect,
    current_user,
    get_pf,
    library_states,
    render,
    require_user,
    shared_page,
    voted_ids,
)
from paperfeed.web.errors import NotFound

router = APIRouter(include_in_schema=False)
SIMILAR = 6


class ArxivConvertor(Convertor):
    """A path segment that is an arXiv id (new style with optional version, or old style)."""

    regex = r"\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z\-]*(?:\.[A-Za-z]{2})?/\d{7}(?:v\d+)?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("arxiv", ArxivConvertor())


def arxiv_redirect(pf: Paperfeed, arxiv_id: str, prefix: str, rest: str = "") -> RedirectResponse:
    """308 to the canonical numeric URL of the paper with this arXiv id, else 404."""
    with pf.db.transaction() as conn:
        paper_id = paper_id_for_arxiv(conn, normalise_arxiv_id(arxiv_id) or arxiv_id)
    if paper_id is None:
        raise NotFound("There is no paper with this arXiv id here.")
    return RedirectResponse(f"{prefix}/papers/{paper_id}{rest}", status_code=308)


MAX_ID = 2**63 - 1


def _paper_or_404(conn, paper_id: int, user: User | None = None) -> dict:
    """The paper, unless there is none or it is hidden from this visitor.

    A hidden paper (catalogue/moderation.py) is shown to administrators only, and
    one held for review also to the account that submitted it.
    """
    paper = lists.get_paper(conn, paper_id) if 0 < paper_id <= MAX_ID else None
    if paper is not None and paper["hidden"] and not _may_see_hidden(conn, paper, user):
        paper = None
    if paper is None:
        raise NotFound("There is no paper with this id.")
    return paper


def _may_see_hidden(conn, paper: dict, user: User | None) -> bool:
    if user is None:
        return False
    if user.is_admin:
        return True
    return paper["hidden"] == "review" and user.id in moderation.submitted_by(conn, paper["id"])


def local_path(value: str | None, fallback: str) -> str:
    """A redirect target that stays on this site (no scheme, no //host)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return fallback


@router.get("/papers/{arxiv_id:arxiv}")
def paper_by_arxiv_id(arxiv_id: str, pf: Paperfeed = Depends(get_pf)) -> RedirectResponse:
    """/papers/2401.05566 (or hep-th/9901001): the paper's own page, by redirect."""
    return arxiv_redirect(pf, arxiv_id, "")


@router.get("/papers/{paper_id}", response_class=HTMLResponse)
def paper_page(
    request: Request,
    paper_id: int,
    sort: str = Query("top", pattern="^(top|new)$"),
    page: int = Query(1, ge=1, le=1_000_000),
    comment: int | None = Query(None, ge=1, le=MAX_ID),
    pf: Paperfeed = Depends(get_pf),
    user: User | None = Depends(current_user),
) -> HTMLResponse:
    """Everything about one paper: abstract, sources, links, upvotes, similar papers, BibTeX,
    and its discussion (sorted top or new, comments.PER_PAGE top-level comments a page;
    `comment`: the page that holds that comment, which links to a comment use)."""

    def build() -> HTMLResponse:
        with pf.db.transaction() as conn:
            paper = _paper_or_404(conn, paper_id, user)
            voted = voted_ids(conn, user, [paper])
            states = library_states(conn, user, [paper])
            thread = comments.paginate(comments.thread(conn, paper_id, user, sort), page, comment)
        # Outside the transaction: similar() takes its own connection from the pool.
        similar = finder.similar(pf, paper_id, SIMILAR)
        with pf.db.transaction() as conn:
            voted |= voted_ids(conn, user, similar)
        context = {
            "paper": paper,
            "voted": voted,
            "states": states,
            "similar": similar,
            "bibtex": bibtex(paper),
            "thread": thread,
            "sort": sort,
        }
        return render(request, "paper.html", context)

    return shared_page(request, build)


@router.get("/papers/{paper_id}/bibtex", response_class=PlainTextResponse)
def paper_bibtex(
    paper_id: int, pf: Paperfeed = Depends(get_pf), user: User | None = Depends(current_user)
) -> PlainTextResponse:
    """The BibTeX entry alone, as text."""
    with pf.db.transaction() as conn:
        paper = _paper_or_404(conn, paper_id, user)
    return PlainTextResponse(bibtex(paper), media_type="application/x-bibtex; charset=utf-8")


@router.post("/papers/{paper_id}/vote", dependencies=[Depends(csrf_protect)])
def vote_form(
    request: Request,
    paper_id: int,
    action: str = Form("add"),
    next: str | None = Form(None),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> RedirectResponse:
    """Upvote (or take back) without JavaScript, then go back to the page it came from."""
    with pf.db.transaction() as conn:
        if not lists.paper_exists(conn, paper_id):  # hidden ones take no votes
            raise NotFound("There is no paper with this id.")
        if action == "remove":
            accounts.remove_vote(conn, user.id, paper_id)
        else:
            accounts.record_vote(conn, user.id, paper_id)
    referer = request.headers.get("referer", "")
    back = f"/papers/{paper_id}"
    if referer.startswith(str(request.base_url)):
        back = "/" + referer[len(str(request.base_url)) :]
    return RedirectResponse(local_path(next, local_path(back, f"/papers/{paper_id}")), 303)
