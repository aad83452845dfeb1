"""The account page: who you are, your personal API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.catalogue.accounts import User
from paperfeed.web.deps import csrf_protect, get_pf, render, require_session, require_user

router = APIRouter(include_in_schema=False)


def _account(request: Request, pf: Paperfeed, user: User, **extra) -> HTMLResponse:
    with pf.db.transaction() as conn:
        tokens = accounts.list_api_tokens(conn, user.id)
    return render(request, "account.html", {"tokens": tokens, **extra})


@router.get("/account", response_class=HTMLResponse)
def account(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> HTMLResponse:
    """Account details and API tokens."""
    return _account(request, pf, user)


@router.post("/account/tokens", dependencies=[Depends(csrf_protect)])
def create_token(
    request: Request,
    name: str = Form(""),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_session),
) -> HTMLResponse:
    """Create an API token and show it once (a token cannot mint tokens)."""
    with pf.db.transaction() as conn:
        token = accounts.create_api_token(conn, user.id, name)
    return _account(request, pf, user, new_token=token)


@router.post("/account/tokens/{token_id}/delete", dependencies=[Depends(csrf_protect)])
def delete_token(
    token_id: str, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> Response:
    """Revoke an API token."""
    with pf.db.transaction() as conn:
        accounts.revoke_api_token(conn, user.id, token_id)
    return RedirectResponse("/account", status_code=303)
