"""Sign-up, sign-in, sign-out and password reset (forms with CSRF tokens, rate-limited)."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.app import Paperfeed
from paperfeed.catalogue import account_settings, accounts
from paperfeed.web import hashing
from paperfeed.web.deps import (
    csrf_protect,
    get_pf,
    render,
    session_cookie,
    session_token,
    set_flash,
)
from paperfeed.web.errors import TooManyRequests
from paperfeed.web.mail import (
    send_confirmation,
    send_later,
    send_password_reset,
    send_signup_notice,
)
from paperfeed.web.routes.papers import local_path

router = APIRouter(include_in_schema=False)
log = logging.getLogger("paperfeed.web.auth")

# (attempts, window) per bucket; every worker counts in the same PostgreSQL rows.
SIGNIN_PER_IP = (30, timedelta(minutes=5))
SIGNUP_PER_IP = (10, timedelta(hours=1))
RESET_PER_IP = (5, timedelta(hours=1))
# "Someone tried to sign up with your address" mails per address: a stranger
# must not be able to flood an owner's inbox through the sign-up form.
SIGNUP_NOTICES = (3, timedelta(hours=1))
# Told to whoever signs up with a taken address while sign-up needs no
# confirmation: the one answer that cannot equal a new account's (see
# docs/security.md, "Account enumeration"). It names no reason.
SIGNUP_REFUSED = (
    "We could not create an account with this address. If it is yours, sign in"
    " or ask for a password reset link; we also sent a note to the address."
)


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _limit(conn, bucket: str, rule: tuple[int, timedelta]) -> None:
    if not accounts.hit_rate_limit(conn, bucket, rule[0], rule[1]):
        minutes = int(rule[1].total_seconds() // 60)
        raise TooManyRequests(
            f"Too many attempts. Please wait {minutes} minutes and try again.",
            headers={"Retry-After": str(int(rule[1].total_seconds()))},
        )


def start_session(request: Request, response: Response, conn, user: accounts.User) -> None:
    """Open a server-side session and give the browser its cookie."""
    token = accounts.create_session(conn, user.id, request.headers.get("user-agent", ""))
    response.set_cookie(
        session_cookie(request),
        token,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.app.state.paperfeed.settings.base_url.startswith("https://"),
        path="/",
    )


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-up form."""
    return render(request, "auth/signup.html", {"next": local_path(next, "/")})


@router.post("/signup", dependencies=[Depends(csrf_protect)])
def signup(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    display_name: str = Form(""),
    next: str = Form("/"),
    pf: Paperfeed = Depends(get_pf),
) -> Response:
    """Create an account; a taken address is answered like a new one (item 10 of issue 16).

    Both paths do the same work in the same order: the rate limit, the argon2
    hash (outside any transaction, in a hashing slot), one insert attempt,
    and one mail queued for after the answer (the confirmation to a new
    address, a "someone tried to sign up" notice to a taken one's owner).
    With PAPERFEED_VERIFY_EMAIL both answers are the same "check your inbox"
    page; without it a new account is signed in at once, which a taken
    address cannot be, so that answer differs (documented trade-off).
    """
    target = local_path(next, "/")
    with pf.db.transaction() as conn:
        _limit(conn, f"signup:ip:{_ip(request)}", SIGNUP_PER_IP)
    try:
        address = accounts.check_new_account(email, password)
    except accounts.AccountError as exc:
        return _signup_error(request, str(exc), email, display_name, target)
    password_hash = hashing.gate(request).hash(password)
    response: Response | None = None
    with pf.db.transaction() as conn:
        user = accounts.insert_user(conn, address, password_hash, display_name)
        owner = None if user is not None else _notice_owner(conn, address)
        if user is not None and not pf.settings.verify_email:
            # Without required confirmation the address counts as given, not as confirmed.
            response = RedirectResponse(target, status_code=303)
            start_session(request, response, conn, user)
            set_flash(response, "signed-up")
        owner_verified = owner is not None and account_settings.is_verified(conn, owner.id)
    if user is not None:
        log.info("user %s signed up", user.id)
        if pf.settings.verify_email:
            send_later(send_confirmation, pf, user, user.email, False)
    elif owner is not None:
        if pf.settings.verify_email and not owner_verified:
            # The earlier sign-up never confirmed: its link again is the useful mail.
            send_later(send_confirmation, pf, owner, owner.email, False)
        else:
            send_later(send_signup_notice, pf, owner)
    if response is not None:
        return response
    if user is None and not pf.settings.verify_email:
        return _signup_error(request, SIGNUP_REFUSED, email, display_name, target)
    return _check_inbox(request, address)


def _notice_owner(conn, address: str) -> accounts.User | None:
    """The owner of a taken address, if they may get one more sign-up notice this hour."""
    owner = accounts.user_by_email(conn, address)
    if owner is None:
        return None
    bucket = f"signup-notice:{accounts.email_key(owner.email)}"
    if not accounts.hit_rate_limit(conn, bucket, *SIGNUP_NOTICES):
        return None
    return owner


def _signup_error(
    request: Request, error: str, email: str, display_name: str, target: str
) -> HTMLResponse:
    context = {"error": error, "email": email, "display_name": display_name, "next": target}
    return render(request, "auth/signup.html", context, status_code=400)


def _check_inbox(request: Request, email: str, status: int = 200) -> HTMLResponse:
    return render(
        request,
        "auth/check_inbox.html",
        {"email": email},
        status_code=status,
    )


@router.post("/signup/resend", dependencies=[Depends(csrf_protect)], response_class=HTMLResponse)
def resend_confirmation(
    request: Request, email: str = Form(""), pf: Paperfeed = Depends(get_pf)
) -> HTMLResponse:
    """Send a new confirmation link to an account that still waits for one (same answer always)."""
    with pf.db.transaction() as conn:
        _limit(conn, f"resend:ip:{_ip(request)}", RESET_PER_IP)
        user = account_settings.find_unverified(conn, email)
    if user is not None:  # after the answer: its time must not tell who waits for a link
        send_later(send_confirmation, pf, user, user.email, False)
    return _check_inbox(request, email.strip())


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form."""
    return render(request, "auth/signin.html", {"next": local_path(next, "/")})


@router.post("/signin", dependencies=[Depends(csrf_protect)])
def signin(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    pf: Paperfeed = Depends(get_pf),
) -> Response:
    """Check the password and open a session."""
    target = local_path(next, "/")
    key = accounts.email_key(email)
    with pf.db.transaction() as conn:
        _limit(conn, f"signin:ip:{_ip(request)}", SIGNIN_PER_IP)
        wait = accounts.signin_wait(conn, key)
        if wait:
            raise TooManyRequests(
                f"Too many wrong passwords for this address. Please wait {wait} seconds.",
                headers={"Retry-After": str(wait)},
            )
        user, stored = accounts.login_candidate(conn, email)
    # argon2 runs here, between two short transactions: a connection is
    # never held while hashing (an unknown address checks the dummy hash).
    gate = hashing.gate(request)
    ok = gate.verify(stored, password) and user is not None
    new_hash = gate.hash(password) if ok and accounts.needs_rehash(stored) else None
    with pf.db.transaction() as conn:
        ok = ok and user is not None and accounts.complete_login(conn, user, stored, new_hash)
        accounts.record_signin(conn, key, ok)
        if not ok or user is None:
            context = {"error": "Wrong email or password.", "email": email, "next": target}
            return render(request, "auth/signin.html", context, status_code=401)
        if pf.settings.verify_email and not account_settings.is_verified(conn, user.id):
            return _check_inbox(request, user.email, status=403)
        response = RedirectResponse(target, status_code=303)
        start_session(request, response, conn, user)
        # Sign-ins are rare and already write: a good moment to drop dead sessions.
        accounts.purge_expired(conn)
    return response


@router.post("/signout", dependencies=[Depends(csrf_protect)])
def signout(request: Request, pf: Paperfeed = Depends(get_pf)) -> Response:
    """End this browser's session."""
    token = session_token(request)
    if token:
        with pf.db.transaction() as conn:
            accounts.end_session(conn, token)
    response = RedirectResponse("/", status_code=303)
    secure = request.app.state.paperfeed.settings.base_url.startswith("https://")
    response.delete_cookie(
        session_cookie(request), path="/", secure=secure, httponly=True, samesite="lax"
    )
    return response


@router.get("/forgot", response_class=HTMLResponse)
def forgot_form(request: Request) -> HTMLResponse:
    """Ask for a password reset link."""
    return render(request, "auth/forgot.html", {})


@router.post("/forgot", dependencies=[Depends(csrf_protect)], response_class=HTMLResponse)
def forgot(request: Request, email: str = Form(""), pf: Paperfeed = Depends(get_pf)) -> Response:
    """Email a reset link if the account exists; the answer is the same either way."""
    with pf.db.transaction() as conn:
        _limit(conn, f"reset:ip:{_ip(request)}", RESET_PER_IP)
        found = accounts.create_password_reset(conn, email)
    if found is not None:
        user, token = found
        link = f"{pf.settings.base_url.rstrip('/')}/reset?token={token}"
        send_later(send_password_reset, pf, user, link)
    return render(request, "auth/forgot.html", {"sent": True})


@router.get("/reset", response_class=HTMLResponse)
def reset_form(request: Request, token: str = "") -> HTMLResponse:
    """Choose a new password (the token comes from the emailed link)."""
    with get_pf(request).db.transaction() as conn:
        usable = account_settings.reset_link_usable(conn, token)
    if not usable:
        context = {"token": "", "used": True, "error": accounts.RESET_LINK_DEAD}
        return render(request, "auth/reset.html", context, status_code=400)
    return render(request, "auth/reset.html", {"token": token})


@router.post("/reset", dependencies=[Depends(csrf_protect)])
def reset(
    request: Request,
    token: str = Form(""),
    password: str = Form(""),
    pf: Paperfeed = Depends(get_pf),
) -> Response:
    """Set the new password, end every old session and sign this browser in.

    The token is checked before hashing (no argon2 work for a dead link) and
    again, atomically, when it is used; hashing happens between the two.
    """
    try:
        accounts.check_password(password)
        with pf.db.transaction() as conn:
            if not account_settings.reset_link_usable(conn, token):
                raise accounts.AccountError(accounts.RESET_LINK_DEAD)
        new_hash = hashing.gate(request).hash(password)
        with pf.db.transaction() as conn:
            user = accounts.reset_password(conn, token, new_hash)
            response = RedirectResponse("/", status_code=303)
            start_session(request, response, conn, user)
    except accounts.AccountError as exc:
        context = {"token": token, "error": str(exc)}
        return render(request, "auth/reset.html", context, status_code=400)
    return response
