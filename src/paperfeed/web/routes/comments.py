"""The discussion of a paper: forms on the paper page, the moderation queue,
an Atom feed per discussion, and the JSON API (same rules as the forms)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from feedgen.feed import FeedGenerator

from paperfeed.app import Paperfeed
from paperfeed.catalogue import comment_html, comments
from paperfeed.catalogue.accounts import User
from paperfeed.delivery import replies
from paperfeed.ranking import lists
from paperfeed.web.deps import csrf_protect, current_user, get_pf, render, require_user
from paperfeed.web.errors import BadRequest, Forbidden, NotFound, TooManyRequests, WebError
from paperfeed.web.routes.admin import require_admin
from paperfeed.web.schemas import API_ERRORS

router = APIRouter()
# A comment body must hold something besides white space (and NULs, which are dropped).
SOME_TEXT = r"[^\s\x00]"
_ERRORS: dict[int, type[WebError]] = {403: Forbidden, 404: NotFound, 429: TooManyRequests}
MAX_ID = 2**63 - 1


def _fail(exc: comments.CommentError) -> WebError:
    return _ERRORS.get(exc.status, BadRequest)(str(exc))


def _check_id(value: int) -> None:
    if not 0 < value <= MAX_ID:
        raise NotFound("There is no such comment.")


def _post(pf: Paperfeed, user: User, paper_id: int, body: str, parent_id: int | None) -> dict:
    _check_id(paper_id)
    if parent_id is not None:
        _check_id(parent_id)
    with pf.db.transaction() as conn:
        try:
            row = comments.create(
                conn, user, paper_id, body, parent_id=parent_id,
                rate=pf.settings.comment_rate, review_first=pf.settings.comment_review_first,
            )  # fmt: skip
        except comments.CommentError as exc:
            raise _fail(exc) from None
        # In the same transaction: the reply email is queued exactly when the reply exists.
        replies.queue_reply(conn, pf.settings, row)
    return row


def _act(pf: Paperfeed, user: User, comment_id: int, action: str, **kw: Any) -> dict | None:
    _check_id(comment_id)
    with pf.db.transaction() as conn:
        try:
            if action == "edit":
                rate = pf.settings.comment_rate
                return comments.edit(conn, user, comment_id, kw["body"], rate=rate)
            if action == "delete":
                comments.delete(conn, user, comment_id)
            elif action == "vote":
                comments.vote(conn, user, comment_id, kw["up"])
            elif action == "report":
                comments.report(conn, user, comment_id, kw.get("reason", ""))
            else:
                row = comments.moderate(conn, user, comment_id, action)
                if action == "approve":
                    replies.queue_reply(conn, pf.settings, row)
                return row
        except comments.CommentError as exc:
            raise _fail(exc) from None
        return comments.get(conn, comment_id)


def comment_url(paper_id: int, comment_id: int) -> str:
    """Where a comment is shown: the page of the discussion that holds it."""
    return f"/papers/{paper_id}?comment={comment_id}#comment-{comment_id}"


def _back(row: dict | None, fallback: str = "/") -> RedirectResponse:
    if row is None:
        return RedirectResponse(fallback, 303)
    return RedirectResponse(comment_url(row["paper_id"], row["id"]), 303)


# ------------------------------------------------------------------- forms (no JavaScript)


@router.post("/papers/{paper_id}/comments", include_in_schema=False,
             dependencies=[Depends(csrf_protect)])  # fmt: skip
def comment_form(
    paper_id: int,
    body: str = Form(..., max_length=comments.MAX_BODY * 2),
    parent_id: int | None = Form(None),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> RedirectResponse:
    """Post a comment or a reply, then show it."""
    return _back(_post(pf, user, paper_id, body, parent_id))


@router.post("/comments/{comment_id}/{action}", include_in_schema=False,
             dependencies=[Depends(csrf_protect)])  # fmt: skip
def comment_action_form(
    comment_id: int,
    action: str,
    body: str = Form("", max_length=comments.MAX_BODY * 2),
    reason: str = Form("", max_length=comments.MAX_REASON * 2),
    undo: bool = Form(False),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> RedirectResponse:
    """edit, delete, vote, report; admins: hide, restore, approve, dismiss."""
    if action not in ("edit", "delete", "vote", "report", "hide", "restore", "approve", "dismiss"):
        raise NotFound("Unknown comment action.")
    row = _act(pf, user, comment_id, action, body=body, reason=reason, up=not undo)
    if action in ("hide", "restore", "approve", "dismiss"):
        return RedirectResponse("/admin/comments", 303)
    return _back(row)


@router.get("/admin/comments", response_class=HTMLResponse, include_in_schema=False)
def moderation_queue(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_admin)
) -> HTMLResponse:
    """Reported and pending comments, oldest first, with hide/restore/approve/dismiss."""
    with pf.db.transaction() as conn:
        queue = comments.report_queue(conn)
    return render(request, "comments/queue.html", {"queue": queue})


@router.get("/papers/{paper_id}/comments.atom", include_in_schema=False)
def discussion_feed(paper_id: int, pf: Paperfeed = Depends(get_pf)) -> Response:
    """The newest visible comments of one paper's discussion, as Atom."""
    _check_id(paper_id)
    with pf.db.transaction() as conn:
        paper = lists.get_paper(conn, paper_id)
        if paper is None:
            raise NotFound("There is no paper with this id.")
        rows = comments.recent_for_feed(conn, paper_id)
    base = pf.settings.base_url.rstrip("/")
    page = f"{base}/papers/{paper_id}"
    fg = FeedGenerator()
    fg.id(f"{page}#discussion")
    fg.title(f"Discussion: {paper['title']}")
    fg.link(href=f"{page}#discussion", rel="alternate")
    fg.link(href=f"{page}/comments.atom", rel="self")
    fg.updated(rows[0]["created_at"] if rows else paper["created_at"])
    for row in reversed(rows):  # feedgen prepends: oldest first in, newest first out
        entry = fg.add_entry()
        entry.id(f"{page}#comment-{row['id']}")  # ids never change: no query
        entry.title(f"{row['author']}: {comment_html.excerpt(row['body'], 80)}")
        entry.link(href=base + comment_url(paper_id, row["id"]))
        entry.author(name=row["author"])
        entry.published(row["created_at"])
        entry.updated(row["edited_at"] or row["created_at"])
        entry.content(str(comments.html_of(row)), type="html")
    return Response(fg.atom_str(pretty=True), media_type="application/atom+xml; charset=utf-8")


# ------------------------------------------------------------------- JSON API


def _json(row: dict) -> dict:
    return {
        "id": row["id"], "paper_id": row["paper_id"], "parent_id": row["parent_id"],
        "author": row["author"], "status": row["status"], "body": row["body"],
        "html": str(comments.html_of(row)), "score": row["score"],
        "created_at": row["created_at"].isoformat(),
        "edited_at": row["edited_at"].isoformat() if row["edited_at"] else None,
    }  # fmt: skip


@router.get("/api/papers/{paper_id}/comments", responses=API_ERRORS, tags=["discussion"])
def api_list(
    paper_id: int,
    sort: str = Query("top", pattern="^(top|new)$"),
    pf: Paperfeed = Depends(get_pf),
    user: User | None = Depends(current_user),
) -> dict:
    """A paper's discussion: top-level comments (sorted top or new) with their replies."""
    _check_id(paper_id)
    with pf.db.transaction() as conn:
        if not lists.paper_exists(conn, paper_id):
            raise NotFound("There is no paper with this id.")
        found = comments.thread(conn, paper_id, user, sort)
    return {"paper_id": paper_id, "sort": sort, "comments": [c.as_dict() for c in found]}


@router.post("/api/papers/{paper_id}/comments", responses=API_ERRORS, status_code=201,
             tags=["discussion"], dependencies=[Depends(csrf_protect)])  # fmt: skip
def api_create(
    paper_id: int,
    body: str = Body(..., embed=True, max_length=comments.MAX_BODY, pattern=SOME_TEXT),
    parent_id: int | None = Body(None, embed=True),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> dict:
    """Post a comment (or a reply: `parent_id` of a top-level comment)."""
    return _json(_post(pf, user, paper_id, body, parent_id))


@router.patch("/api/comments/{comment_id}", responses=API_ERRORS, tags=["discussion"],
              dependencies=[Depends(csrf_protect)])  # fmt: skip
def api_edit(
    comment_id: int,
    body: str = Body(..., embed=True, max_length=comments.MAX_BODY, pattern=SOME_TEXT),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> dict:
    """Edit your own comment (it is marked edited)."""
    return _json(_act(pf, user, comment_id, "edit", body=body))


@router.delete("/api/comments/{comment_id}", responses=API_ERRORS, tags=["discussion"],
               dependencies=[Depends(csrf_protect)])  # fmt: skip
def api_delete(
    comment_id: int, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> dict:
    """Delete your own comment (its replies stay)."""
    _act(pf, user, comment_id, "delete")
    return {"id": comment_id, "status": "deleted"}


@router.post("/api/comments/{comment_id}/vote", responses=API_ERRORS, tags=["discussion"],
             dependencies=[Depends(csrf_protect)])  # fmt: skip
def api_vote(
    comment_id: int, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> dict:
    """Upvote a comment."""
    row = _act(pf, user, comment_id, "vote", up=True)
    return {"id": comment_id, "voted": True, "score": row["score"]}


@router.delete("/api/comments/{comment_id}/vote", responses=API_ERRORS, tags=["discussion"],
               dependencies=[Depends(csrf_protect)])  # fmt: skip
def api_unvote(
    comment_id: int, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> dict:
    """Take back an upvote."""
    row = _act(pf, user, comment_id, "vote", up=False)
    return {"id": comment_id, "voted": False, "score": row["score"]}


@router.post("/api/comments/{comment_id}/report", responses=API_ERRORS, tags=["discussion"],
             dependencies=[Depends(csrf_protect)])  # fmt: skip
def api_report(
    comment_id: int,
    reason: str = Body("", embed=True, max_length=comments.MAX_REASON * 2),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> dict:
    """Report a comment to the moderators."""
    _act(pf, user, comment_id, "report", reason=reason)
    return {"id": comment_id, "reported": True}
