"""Admin pages of delivery: the outbox, permanent failures, bounced addresses, scheduler runs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue.accounts import User
from paperfeed.delivery import report
from paperfeed.web.deps import get_pf, render, require_user
from paperfeed.web.errors import Forbidden

router = APIRouter(include_in_schema=False)


def require_admin(user: User = Depends(require_user)) -> User:
    """The signed-in user if an administrator; 403 otherwise."""
    if not user.is_admin:
        raise Forbidden("Administrators only.")
    return user


@router.get("/admin/delivery", response_class=HTMLResponse)
def delivery_page(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_admin)
) -> HTMLResponse:
    """How email delivery is going: failures first, then the rest."""
    with pf.db.transaction() as conn:
        context = report.overview(conn)
    return render(request, "admin/delivery.html", context)
