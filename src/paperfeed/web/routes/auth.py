"""Sign-up, sign-in, sign-out and password reset (forms with CSRF tokens, rate-limited)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperfeed.app import Paperfeed
from paperfeed.catalogue import account_settings, accounts
from paperfeed.web.deps import (
    csrf_protect,
    get_pf,
    render,
    session_cookie,
    session_token,
    set_flash,
)
from paperfeed.web.errors import TooManyRequests
from paperfeed.web.mail import send_confirmation, send_password_reset
from paperfeed.web.routes.papers import local_path

router = APIRouter(include_in_schema=False)
log = logging.getLogger("paperfeed.web.auth")

# (attempts, window) per bucket; every worker counts in the same PostgreSQL rows.
SIGNIN_PER_IP = (30, timedelta(minutes=5))
SIGNUP_PER_IP = (10, timedelta(hours=1))
RESET_PER_IP = (5, timedelta(hours=1))


# Reset mail leaves from here, after the answer: sending takes tens of
# milliseconds that only known addresses would otherwise spend, and that
# difference alone told a stranger which addresses have accounts.
# One thread: mails leave in order, and `flush_reset_mail` is a barrier.
_reset_mail = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reset-mail")


def flush_reset_mail() -> None:
    """Wait until every reset mail asked for so far has been handed to SMTP (or logged)."""
    _reset_mail.submit(lambda: None).result()


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
    """Create an account and sign it in."""
    target = local_path(next, "/")
    with pf.db.transaction() as conn:
        _limit(conn, f"signup:ip:{_ip(request)}", SIGNUP_PER_IP)
        try:
            user = accounts.create_user(conn, email, password, display_name)
        except accounts.AccountError as exc:
            context = {"error": str(exc), "email": email, "display_name": display_name}
            context["next"] = target
            return render(request, "auth/signup.html", context, status_code=400)
        if pf.settings.verify_email:
            response = None
        else:
            # Without required confirmation the address counts as given, not as confirmed.
            response = RedirectResponse(target, status_code=303)
            start_session(request, response, conn, user)
            set_flash(response, "signed-up")
    log.info("user %s signed up", user.id)
    if response is None:
        send_confirmation(pf, user, user.email, change=False)
        return _check_inbox(request, user.email)
    return response


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
    if user is not None:
        send_confirmation(pf, user, user.email, change=False)
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
    with pf.db.transaction() as conn:
        _limit(conn, f"signin:ip:{_ip(request)}", SIGNIN_PER_IP)
        key = accounts.email_key(email)
        wait = accounts.signin_wait(conn, key)
        if wait:
            raise TooManyRequests(
                f"Too many wrong passwords for this address. Please wait {wait} seconds.",
                headers={"Retry-After": str(wait)},
            )
        user = accounts.authenticate(conn, email, password)
        accounts.record_signin(conn, key, user is not None)
        if user is None:
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
        _reset_mail.submit(send_password_reset, pf, user, link)
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
    """Set the new password, end every old session and sign this browser in."""
    with pf.db.transaction() as conn:
        try:
            user = accounts.reset_password(conn, token, password)
        except accounts.AccountError as exc:
            context = {"token": token, "error": str(exc)}
            return render(request, "auth/reset.html", context, status_code=400)
        response = RedirectResponse("/", status_code=303)
        start_session(request, response, conn, user)
    return response
