"""The admin section: an overview (users, import runs, submissions) and delivery
(outbox, permanent failures, bounced addresses, scheduler runs).

Only administrators see it (its link appears in their header); make one with
`paperfeed users promote EMAIL`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue import admin
from paperfeed.catalogue.accounts import User
from paperfeed.delivery import report
from paperfeed.web.deps import get_pf, render, require_user, templates
from paperfeed.web.errors import Forbidden

router = APIRouter(include_in_schema=False)


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
