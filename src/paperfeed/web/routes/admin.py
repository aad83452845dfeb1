"""The admin section: an overview (users, import runs with their live progress,
submissions with the review queue), papers (hide, restore, delete) and delivery
(outbox, permanent failures, bounced addresses, scheduler runs).

Every change is a POST with the CSRF token, answered by a redirect back to the
table it came from with a one-line message (deps.FLASHES).

Only administrators see it (its link appears in their header); make one with
`paperfeed users promote EMAIL`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue import admin, moderation, removal
from paperfeed.catalogue.accounts import User
from paperfeed.delivery import report
from paperfeed.web.deps import csrf_protect, get_pf, render, require_user, set_flash, templates
from paperfeed.web.errors import BadRequest, Forbidden, NotFound

router = APIRouter(include_in_schema=False)
PAPERS_PAGE = 50
# How often the overview asks for a running import's counts (static/admin.js).
PROGRESS_POLL_SECONDS = 2


def require_admin(user: User = Depends(require_user)) -> User:
    """The signed-in user if an administrator; 403 otherwise."""
    if not user.is_admin:
        raise Forbidden("Administrators only.")
    return user


@router.get("/admin", response_class=HTMLResponse)
def overview_page(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_admin)
) -> HTMLResponse:
    """Imports (running ones first, with their counts so far), submissions and users."""
    with pf.db.transaction() as conn:
        context = {
            "nav": "admin",
            "runs": admin.import_runs(conn, 30),
            "submissions": admin.submissions(conn, 30),
            "users": admin.users(conn, 50),
            "user_count": admin.count_users(conn),
        }
    return render(request, "admin/overview.html", context)


def _run_json(row: dict) -> dict:
    return {
        "id": row["id"],
        "status": row["status"],
        "read": row["read"],
        "new": row["new"],
        "merged": row["merged"],
        "rejected": row["rejected"],
        "finished": row["finished_at"].strftime("%H:%M:%S") if row["finished_at"] else None,
        "message": row["message"] or "",
    }


@router.get("/admin/imports.json")
def import_progress(
    pf: Paperfeed = Depends(get_pf), user: User = Depends(require_admin)
) -> JSONResponse:
    """The overview's import runs with their counts so far (polled while one is running)."""
    with pf.db.transaction() as conn:
        runs = admin.import_runs(conn, 30)
    return JSONResponse(
        {
            "running": any(r["status"] == "running" for r in runs),
            "poll_seconds": PROGRESS_POLL_SECONDS,
            "runs": [_run_json(r) for r in runs],
        },
        headers={"Cache-Control": "no-store"},
    )


def _back(back: str, fallback: str, flash: str) -> RedirectResponse:
    """A redirect to the admin table the form came from (admin paths only), with a message."""
    target = back if back.startswith("/admin") and "\\" not in back else fallback
    response = RedirectResponse(target, status_code=303)
    set_flash(response, flash)
    return response


@router.get("/admin/papers", response_class=HTMLResponse)
def papers_page(
    request: Request,
    q: str = Query("", max_length=200),
    state: str = Query("all"),
    page: int = Query(1, ge=1, le=10_000),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_admin),
) -> HTMLResponse:
    """Papers newest first (found by id, arXiv id or title), each with hide/restore and delete."""
    if state not in moderation.STATES:
        raise BadRequest(f"state must be one of {', '.join(moderation.STATES)}.")
    with pf.db.transaction() as conn:
        rows, more = moderation.papers_table(
            conn, query=q, state=state, limit=PAPERS_PAGE, offset=(page - 1) * PAPERS_PAGE
        )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    context = {
        "nav": "admin",
        "papers": rows,
        "more": more,
        "q": q,
        "state": state,
        "states": moderation.STATES,
        "page": page,
        "here": here,
    }
    return render(request, "admin/papers.html", context)


@router.post("/admin/papers/{paper_id}/hide", dependencies=[Depends(csrf_protect)])
def hide_paper(
    paper_id: int,
    note: str = Form("", max_length=moderation.MAX_NOTE * 2),
    back: str = Form("/admin/papers"),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_admin),
) -> RedirectResponse:
    """Take a paper out of every public view (it stays, with its votes and saves)."""
    with pf.db.transaction() as conn:
        hidden = moderation.hide(conn, [paper_id], user.id, note=note)
    return _back(back, "/admin/papers", "paper-hidden" if hidden else "paper-gone")


@router.post("/admin/papers/{paper_id}/restore", dependencies=[Depends(csrf_protect)])
def restore_paper(
    paper_id: int,
    back: str = Form("/admin/papers"),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_admin),
) -> RedirectResponse:
    """Bring a hidden (or held) paper back into view."""
    with pf.db.transaction() as conn:
        moderation.restore(conn, [paper_id])
    return _back(back, "/admin/papers", "paper-restored")


@router.post("/admin/papers/{paper_id}/delete", dependencies=[Depends(csrf_protect)])
def delete_paper(
    paper_id: int,
    including_used: bool = Form(False),
    back: str = Form("/admin/papers"),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_admin),
) -> RedirectResponse:
    """Delete a paper (removal.delete_papers): one that people voted for, saved or
    commented on only when `including_used` (those go with it)."""
    done = removal.delete_papers(pf.db, [paper_id], including_used=including_used)
    flash = "paper-kept" if done.kept else "paper-gone" if done.missing else "paper-deleted"
    return _back(back, "/admin/papers", flash)


def _held_paper(pf: Paperfeed, submission_id: int) -> int:
    """The paper a submission created that awaits review; 404 when there is none."""
    with pf.db.transaction() as conn:
        paper_id = admin.held_submission_paper(conn, submission_id)
    if paper_id is None:
        raise NotFound("There is no submission awaiting review with this id.")
    return paper_id


@router.post("/admin/submissions/{submission_id}/approve", dependencies=[Depends(csrf_protect)])
def approve_submission(
    submission_id: int, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_admin)
) -> RedirectResponse:
    """Put a held submission's paper in public view."""
    paper_id = _held_paper(pf, submission_id)
    with pf.db.transaction() as conn:
        moderation.restore(conn, [paper_id])
    return _back("/admin#submissions", "/admin", "submission-approved")


@router.post("/admin/submissions/{submission_id}/reject", dependencies=[Depends(csrf_protect)])
def reject_submission(
    submission_id: int, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_admin)
) -> RedirectResponse:
    """Delete a held submission's paper (no one else could see it, so nothing else refers
    to it but the submitter's own saves and votes, which go with it)."""
    paper_id = _held_paper(pf, submission_id)
    removal.delete_papers(pf.db, [paper_id], including_used=True)
    return _back("/admin#submissions", "/admin", "submission-rejected")


@router.get("/admin/delivery", response_class=HTMLResponse)
def delivery_page(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_admin)
) -> HTMLResponse:
    """How email delivery is going: failures first, then the rest."""
    with pf.db.transaction() as conn:
        context = report.overview(conn)
    return render(request, "admin/delivery.html", {"nav": "admin", **context})


def summary_text(value: object) -> str:
    """A run's JSON summary as `key=value` pairs (a template filter), not a Python dict."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={summary_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(summary_text(v) for v in value)
    return "" if value is None else str(value)


templates.env.filters["summary_text"] = summary_text
