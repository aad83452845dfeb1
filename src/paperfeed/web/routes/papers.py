"""The paper page, its BibTeX, and the no-JavaScript vote form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.catalogue.accounts import User
from paperfeed.ranking import lists
from paperfeed.web import finder
from paperfeed.web.citation import bibtex
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
MAX_ID = 2**63 - 1


def _paper_or_404(conn, paper_id: int) -> dict:
    paper = lists.get_paper(conn, paper_id) if 0 < paper_id <= MAX_ID else None
    if paper is None:
        raise NotFound("There is no paper with this id.")
    return paper


def local_path(value: str | None, fallback: str) -> str:
    """A redirect target that stays on this site (no scheme, no //host)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return fallback


@router.get("/papers/{paper_id}", response_class=HTMLResponse)
def paper_page(
    request: Request,
    paper_id: int,
    pf: Paperfeed = Depends(get_pf),
    user: User | None = Depends(current_user),
) -> HTMLResponse:
    """Everything about one paper: abstract, sources, links, upvotes, similar papers, BibTeX."""

    def build() -> HTMLResponse:
        with pf.db.transaction() as conn:
            paper = _paper_or_404(conn, paper_id)
            voted = voted_ids(conn, user, [paper])
            states = library_states(conn, user, [paper])
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
        }
        return render(request, "paper.html", context)

    return shared_page(request, build)


@router.get("/papers/{paper_id}/bibtex", response_class=PlainTextResponse)
def paper_bibtex(paper_id: int, pf: Paperfeed = Depends(get_pf)) -> PlainTextResponse:
    """The BibTeX entry alone, as text."""
    with pf.db.transaction() as conn:
        paper = _paper_or_404(conn, paper_id)
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
        _paper_or_404(conn, paper_id)
        if action == "remove":
            accounts.remove_vote(conn, user.id, paper_id)
        else:
            accounts.record_vote(conn, user.id, paper_id)
    referer = request.headers.get("referer", "")
    back = f"/papers/{paper_id}"
    if referer.startswith(str(request.base_url)):
        back = "/" + referer[len(str(request.base_url)) :]
    return RedirectResponse(local_path(next, local_path(back, f"/papers/{paper_id}")), 303)
