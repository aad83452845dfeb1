"""The account page: who you are, your personal API tokens, and changing the account
(password, email address with re-confirmation, deletion).

Changing the password signs out every other session and revokes every API token.
A new email address takes effect only when the link sent to it is clicked.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.app import Paperfeed
from paperfeed.catalogue import account_settings, accounts
from paperfeed.catalogue.accounts import User
from paperfeed.web import email_links, hashing
from paperfeed.web.deps import (
    csrf_protect,
    current_user,
    get_pf,
    render,
    require_session,
    require_user,
    session_cookie,
    session_token,
    set_flash,
)
from paperfeed.web.errors import BadRequest
from paperfeed.web.mail import send_confirmation
from paperfeed.web.routes.auth import start_session

router = APIRouter(include_in_schema=False)
log = logging.getLogger("paperfeed.web.account")


def _account(
    request: Request, pf: Paperfeed, user: User, status: int = 200, **extra
) -> HTMLResponse:
    with pf.db.transaction() as conn:
        tokens = accounts.list_api_tokens(conn, user.id)
        verified = account_settings.is_verified(conn, user.id)
    context = {"tokens": tokens, "verified": verified, **extra}
    return render(request, "account.html", context, status_code=status)


@router.get("/account", response_class=HTMLResponse)
def account(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> HTMLResponse:
    """Account details, API tokens and the forms that change the account."""
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


@router.post("/account/password", dependencies=[Depends(csrf_protect)])
def change_password(
    request: Request,
    current_password: str = Form(""),
    new_password: str = Form(""),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> Response:
    """New password; other sessions and all API tokens stop working."""
    try:
        checked = hashing.check_current(request, pf, user.id, current_password)
        accounts.check_password(new_password)
        new_hash = hashing.gate(request).hash(new_password)
        with pf.db.transaction() as conn:
            revoked = account_settings.change_password(
                conn, user.id, checked, new_hash, keep_session=session_token(request) or ""
            )
    except accounts.AccountError as exc:
        return _account(request, pf, user, status=400, password_error=str(exc))
    log.info("user %s changed their password (%s sessions/tokens revoked)", user.id, revoked)
    response = RedirectResponse("/account", status_code=303)
    set_flash(response, "password-changed")
    return response


@router.post("/account/email", dependencies=[Depends(csrf_protect)])
def change_email(
    request: Request,
    new_email: str = Form(""),
    password: str = Form(""),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> Response:
    """Send a confirmation link to the new address; the change waits for its click."""
    try:
        checked = hashing.check_current(request, pf, user.id, password)
        with pf.db.transaction() as conn:
            email = account_settings.check_new_email(conn, user.id, checked, new_email)
    except accounts.AccountError as exc:
        return _account(request, pf, user, status=400, email_error=str(exc), new_email=new_email)
    sent = send_confirmation(pf, user, email, change=True)
    notice = (
        f"We sent a link to {email}. Your address changes when you click it; until then "
        f"it stays {user.email}."
        if sent
        else "The mail server did not take the confirmation email. Please try again later."
    )
    return _account(request, pf, user, status=200 if sent else 503, email_notice=notice)


@router.post("/account/resend-confirmation", dependencies=[Depends(csrf_protect)])
def resend_own_confirmation(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> HTMLResponse:
    """Send the confirmation link for the account's current address again."""
    sent = send_confirmation(pf, user, user.email, change=False)
    notice = (
        f"A new link is on its way to {user.email}."
        if sent
        else ("The mail server did not take the email. Please try again later.")
    )
    return _account(request, pf, user, email_notice=notice)


@router.get("/account/confirm-email/{token}", response_class=HTMLResponse)
def confirm_email_page(
    request: Request, token: str, pf: Paperfeed = Depends(get_pf)
) -> HTMLResponse:
    """A button that confirms the address (a GET alone changes nothing: scanners follow links)."""
    claim = _claim(pf, token)
    return render(
        request,
        "subscriptions/message.html",
        {
            "heading": "Confirm your email address",
            "text": f"Use {claim.email} for your paperfeed account?",
            "action_url": f"/account/confirm-email/{token}",
            "action_label": "Confirm",
            "with_csrf": True,
        },
    )


@router.post("/account/confirm-email/{token}", dependencies=[Depends(csrf_protect)])
def confirm_email(
    request: Request,
    token: str,
    pf: Paperfeed = Depends(get_pf),
    user: User | None = Depends(current_user),
) -> Response:
    """Make the address the account's confirmed one, and sign this browser in."""
    claim = _claim(pf, token)
    response = RedirectResponse("/account" if claim.change else "/", status_code=303)
    with pf.db.transaction() as conn:
        try:
            confirmed = account_settings.confirm_email(conn, claim.user_id, claim.email)
        except accounts.AccountError as exc:
            raise BadRequest(str(exc)) from None
        if user is None or user.id != confirmed.id:
            start_session(request, response, conn, confirmed)
    set_flash(response, "email-confirmed")
    return response


def _claim(pf: Paperfeed, token: str) -> email_links.EmailClaim:
    try:
        return email_links.read_link(pf.secret_key, token)
    except email_links.InvalidLink as exc:
        raise BadRequest(str(exc)) from None


@router.post("/account/delete", dependencies=[Depends(csrf_protect)])
def delete_account(
    request: Request,
    password: str = Form(""),
    confirm: str = Form(""),
    pf: Paperfeed = Depends(get_pf),
    user: User = Depends(require_user),
) -> Response:
    """Delete the account (what goes and what stays is listed on the account page)."""
    if confirm != "delete":
        return _account(request, pf, user, status=400, delete_error="Tick the box to confirm.")
    try:
        checked = hashing.check_current(request, pf, user.id, password)
        with pf.db.transaction() as conn:
            account_settings.delete_account(conn, user.id, checked)
    except accounts.AccountError as exc:
        return _account(request, pf, user, status=400, delete_error=str(exc))
    log.info("user %s deleted their account", user.id)
    request.state.user = None
    response = render(
        request,
        "subscriptions/message.html",
        {
            "heading": "Your account is deleted",
            "text": "Your library, subscriptions, sessions and API tokens are gone. Your upvotes "
            "still count, without your name. Papers you submitted stay in the catalogue.",
        },
    )
    secure = pf.settings.base_url.startswith("https://")
    response.delete_cookie(
        session_cookie(request), path="/", secure=secure, httponly=True, samesite="lax"
    )
    return response
