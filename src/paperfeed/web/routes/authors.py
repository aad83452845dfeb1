"""Author pages, following authors and organisations, and the Following list."""

from __future__ import annotations

import math

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue import authors, follows
from paperfeed.catalogue.accounts import User
from paperfeed.delivery import replies
from paperfeed.ranking import lists
from paperfeed.web.deps import (
    csrf_protect,
    current_user,
    get_pf,
    render,
    require_user,
    voted_ids,
)
from paperfeed.web.errors import BadRequest, NotFound
from paperfeed.web.routes.admin import require_admin

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


def _author_or_404(conn, slug: str) -> dict:
    author = authors.by_slug(conn, slug[:400])
    if author is None:
        raise NotFound("There is no author with this name here.")
    return author


@router.get("/authors/{slug}", response_class=HTMLResponse, response_model=None)
def author_page(
    request: Request,
    slug: str,
    page: int = Query(1, ge=1, le=1000),
    pf: Paperfeed = Depends(get_pf),
    user: User | None = Depends(current_user),
) -> HTMLResponse | RedirectResponse:
    """An author's papers, co-authors and organisations; merged variants redirect here."""
    with pf.db.transaction() as conn:
        author = _author_or_404(conn, slug)
        if author["merged_into"] is not None:
            return RedirectResponse(f"/authors/{author['merged_slug']}", 301)
        papers, total = lists.author_papers(
            conn, author["id"], limit=PER_PAGE, offset=(page - 1) * PER_PAGE
        )
        context = {
            "author": author,
            "papers": papers,
            "total": total,
            "page": page,
            "pages": max(1, math.ceil(total / PER_PAGE)),
            "coauthors": authors.coauthors(conn, author["id"]),
            "organizations": authors.organizations(conn, author["id"]),
            "variants": authors.variants(conn, author["id"]),
            "voted": voted_ids(conn, user, papers),
            "following": bool(user) and follows.follows_author(conn, user.id, author["id"]),
            "claim": authors.claim_state(conn, author["id"], user.id if user else None),
        }
    return render(request, "authors/page.html", context)


def _back(next_path: str | None, fallback: str) -> str:
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        return next_path
    return fallback


@router.post("/authors/{slug}/follow", dependencies=[Depends(csrf_protect)])
def follow_author(
    slug: str,
    action: str = Form("follow"),
    next: str | None = Form(None),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> RedirectResponse:
    """Follow (or unfollow) an author, then go back."""
    with pf.db.transaction() as conn:
        author = _author_or_404(conn, slug)
        target = author["merged_into"] or author["id"]
        if action == "unfollow":
            follows.unfollow_author(conn, user.id, target)
        else:
            try:
                follows.follow_author(conn, user.id, target)
            except follows.FollowError as exc:
                raise BadRequest(str(exc)) from None
    return RedirectResponse(_back(next, f"/authors/{slug}"), 303)


@router.post("/authors/{slug}/claim", dependencies=[Depends(csrf_protect)])
def claim_author(
    slug: str,
    message: str = Form("", max_length=4000),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> RedirectResponse:
    """Ask to be recognised as this author; an admin approves or rejects it."""
    with pf.db.transaction() as conn:
        author = _author_or_404(conn, slug)
        try:
            authors.claim(conn, user.id, author["id"], message)
        except authors.ClaimError as exc:
            raise BadRequest(str(exc)) from None
    return RedirectResponse(f"/authors/{author['slug']}", 303)


@router.get("/admin/claims", response_class=HTMLResponse)
def claims_page(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_admin)
) -> HTMLResponse:
    """Author-page claims waiting for an admin."""
    with pf.db.transaction() as conn:
        pending = authors.pending_claims(conn)
    return render(request, "authors/claims.html", {"claims": pending})


@router.post("/admin/claims/{claim_id}", dependencies=[Depends(csrf_protect)])
def decide_claim(
    claim_id: int,
    action: str = Form(...),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_admin),
) -> RedirectResponse:
    """Approve or reject one claim."""
    if action not in ("approve", "reject") or not 0 < claim_id <= 2**63 - 1:
        raise BadRequest("action is approve or reject.")
    with pf.db.transaction() as conn:
        try:
            authors.decide(conn, user.id, claim_id, action == "approve")
        except authors.ClaimError as exc:
            raise NotFound(str(exc)) from None
    return RedirectResponse("/admin/claims", 303)


@router.post("/following/orgs", dependencies=[Depends(csrf_protect)])
def follow_org(
    organization: str = Form(..., max_length=500),
    action: str = Form("follow"),
    next: str | None = Form(None),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> RedirectResponse:
    """Follow (or unfollow) an organisation, then go back."""
    with pf.db.transaction() as conn:
        if action == "unfollow":
            follows.unfollow_org(conn, user.id, organization)
        else:
            try:
                follows.follow_org(conn, user.id, organization)
            except follows.FollowError as exc:
                raise NotFound(str(exc)) from None
    return RedirectResponse(_back(next, "/following"), 303)


@router.post("/account/reply-emails", dependencies=[Depends(csrf_protect)])
def reply_emails(
    on: bool = Form(False),
    next: str | None = Form(None),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> RedirectResponse:
    """Opt in to (or out of) an email when someone replies to your comment."""
    with pf.db.transaction() as conn:
        replies.set_reply_emails(conn, user, on)
    return RedirectResponse(_back(next, "/following"), 303)


@router.get("/following", response_class=HTMLResponse)
def following_page(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> HTMLResponse:
    """Who and what the user follows, and the newest papers from them."""
    with pf.db.transaction() as conn:
        followed = follows.following(conn, user.id)
        recent = follows.followed_papers(conn, user.id, limit=30)
        cards = lists.papers_by_ids(conn, [r["paper_id"] for r in recent])
        reasons = {r["paper_id"]: r["reason"] for r in recent}
        voted = voted_ids(conn, user, cards)
        reply_emails = replies.reply_subscription(conn, user.id) is not None
    context = {
        "followed": followed,
        "cards": cards,
        "reasons": reasons,
        "voted": voted,
        "reply_emails": reply_emails,
    }
    return render(request, "authors/following.html", context)
