"""Email subscriptions: subscribe (double opt-in), confirm, manage, one-click unsubscribe.

Links in emails carry signed tokens (paperfeed.delivery.tokens) and work
without signing in. Confirming is a POST behind a button: mail scanners fetch
every GET link in a message, and must not confirm (or use up) anything.
`POST /unsubscribe/<token>` is RFC 8058's one-click endpoint: mail providers
call it without cookies, so it needs no CSRF token (the signed token is the
authority, and unsubscribing is the only thing it can do).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.catalogue.accounts import User
from paperfeed.delivery import digest, subscriptions, tokens
from paperfeed.delivery.compose import Links
from paperfeed.delivery.mailer import DeliveryError
from paperfeed.web.deps import (
    NAV_LINKS,
    csrf_protect,
    current_user,
    get_pf,
    parse_flag,
    render,
    require_user,
)
from paperfeed.web.errors import BadRequest, NotFound, TooManyRequests

log = logging.getLogger("paperfeed.web")
router = APIRouter(include_in_schema=False)
# "Get trending papers in your email inbox": reachable from every page.
NAV_LINKS.append(("Subscribe", "/subscribe", "subscribe"))
WEEKDAYS = list(
    enumerate(
        ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), start=1
    )
)
# What the subscribe form offers; for_you (the user's own feed) needs an account.
FORM_KINDS = ("trending", "search", "for_you", "following")
# Kinds made of the account's own data: they need one and go to its own address.
OWN_KINDS = ("for_you", "following")
NEEDS_ACCOUNT = "The for-you digest needs an account: please sign in first."
# Subscribe requests per client address and confirmation emails per recipient, per hour.
IP_LIMIT, ADDRESS_LIMIT, LIMIT_WINDOW = 20, 3, timedelta(hours=1)


# Regions of the canonical IANA names; legacy aliases (US/Eastern, Etc/GMT+5, …) are left out.
_REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


@lru_cache(maxsize=1)
def _timezones() -> list[tuple[str, list[str]]]:
    """The time zones of the form, grouped by region (a list of ~430 instead of ~600)."""
    zones = available_timezones()
    groups = [("Common", ["UTC"])]
    for region in _REGIONS:
        names = sorted(z for z in zones if z.startswith(region + "/"))
        groups.append((region, names))
    return groups


def _schedule(**values: Any) -> dict[str, Any]:
    zones = _timezones()
    current = values.get("timezone")
    if current and not any(current in names for _, names in zones):
        zones = [("Current", [current]), *zones]  # an old alias stays selectable
    return {"weekdays": WEEKDAYS, "timezones": zones, **values}


def _filters(organization: str | None, has_code: str | None) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if organization and organization.strip():
        filters["organization"] = organization.strip()[:200]
    if parse_flag(has_code, "has_code"):
        filters["has_code"] = True
    return filters


def _subscribe_page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
    kind = values.get("kind", "trending")
    q = values.get("q", "")
    context = _schedule(
        kind=kind,
        q=q,
        label=q or values.get("filters", {}).get("organization", ""),
        filters=values.get("filters", {}),
        email=values.get("email", ""),
        cadence=values.get("cadence", "daily"),
        send_hour=values.get("send_hour", 7),
        send_weekday=values.get("send_weekday", 1),
        timezone=values.get("timezone", "UTC"),
        error=values.get("error"),
    )
    return render(request, "subscriptions/subscribe.html", context, status_code=status)


def _message(request: Request, heading: str, text: str, status: int = 200, **extra: Any):
    return render(
        request,
        "subscriptions/message.html",
        {"heading": heading, "text": text, **extra},
        status_code=status,
    )


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(
    request: Request,
    kind: str = "trending",
    q: str = "",
    organization: str | None = None,
    has_code: str | None = None,
    cadence: str = "daily",
    user: User | None = Depends(current_user),
) -> HTMLResponse:
    """The subscribe form: trending papers, a search (with its filters) or the for-you feed."""
    if kind not in FORM_KINDS:
        raise BadRequest("kind must be trending, search, for_you or following.")
    if kind in OWN_KINDS and user is None:
        return _message(request, "Sign in first", NEEDS_ACCOUNT, status=401, signin=True)
    return _subscribe_page(
        request,
        kind=kind,
        q=q[:500],
        filters=_filters(organization, has_code),
        email=user.email if user else "",
        cadence=cadence if cadence == "weekly" else "daily",
    )


@router.post("/subscribe", response_class=HTMLResponse, dependencies=[Depends(csrf_protect)])
def subscribe(
    request: Request,
    email: str = Form(...),
    kind: str = Form("trending"),
    q: str = Form(""),
    organization: str | None = Form(None),
    has_code: str | None = Form(None),
    cadence: str = Form("daily"),
    send_hour: int = Form(7),
    send_weekday: int = Form(1),
    timezone: str = Form("UTC"),
    pf: Paperfeed = Depends(get_pf),
    user: User | None = Depends(current_user),
) -> HTMLResponse:
    """Create a pending subscription and email its confirmation link."""
    values = dict(
        kind=kind,
        q=q[:500],
        filters=_filters(organization, has_code),
        email=email,
        cadence=cadence,
        send_hour=send_hour,
        send_weekday=send_weekday,
        timezone=timezone,
    )
    if kind not in FORM_KINDS:
        raise BadRequest("kind must be trending, search, for_you or following.")
    if kind in OWN_KINDS:
        if user is None:
            return _message(request, "Sign in first", NEEDS_ACCOUNT, status=401, signin=True)
        # A personal feed goes only to its owner's own address.
        email = values["email"] = user.email
    # Only the account whose own address this is may own the subscription.
    owner = user.id if user and subscriptions.same_address(user.email, email) else None
    try:
        with pf.db.transaction() as conn:
            _limit(conn, request, email)
            sub = subscriptions.subscribe(
                conn,
                email,
                kind=kind,
                query=values["q"],
                filters=values["filters"],
                cadence=cadence,
                send_hour=send_hour,
                send_weekday=send_weekday,
                timezone=timezone,
                user_id=owner,
            )
    except subscriptions.SubscriptionError as exc:
        return _subscribe_page(request, status=422, error=str(exc), **values)
    try:
        if sub.status == "pending":
            digest.send_confirmation(pf, sub)
        else:
            # Nothing changed: the mailbox's reader alone gets the manage link.
            digest.send_already_subscribed(pf, sub)
    except DeliveryError as exc:
        log.warning("confirmation to subscription %s failed: %s", sub.id, exc)
        return _message(
            request,
            "Could not send the email",
            "The mail server refused the confirmation email. Please try again later.",
            status=503,
            resend=_resend_fields(values, email),
        )
    # The same answer whether or not the address was already subscribed: the
    # page must not tell a stranger who subscribes to what.
    return _message(
        request,
        "Check your inbox",
        f"An email to {sub.email} is on its way. Nothing is sent, and nothing "
        "changes, before you click its link.",
        resend=_resend_fields(values, email),
    )


def _resend_fields(values: dict[str, Any], email: str) -> dict[str, Any]:
    """The form fields that ask for the same subscription again (a new confirmation link)."""
    keys = ("kind", "q", "cadence", "send_hour", "send_weekday", "timezone")
    filters = {k: "true" if v is True else v for k, v in values["filters"].items()}
    return {"email": email, **{k: values[k] for k in keys}, **filters}


def _limit(conn, request: Request, email: str) -> None:
    """Refuse floods: the form sends email to any address, so it must not be a mail cannon."""
    client = request.client.host if request.client else "unknown"
    address = email.strip().lower()[:320]
    for bucket, limit in (
        (f"subscribe-ip:{client}", IP_LIMIT),
        (f"subscribe-email:{address}", ADDRESS_LIMIT),
    ):
        if not accounts.hit_rate_limit(conn, bucket, limit, LIMIT_WINDOW):
            raise TooManyRequests("Too many subscription requests: please try again later.")


def _read(pf: Paperfeed, purpose: str, token: str, max_age: int | None = None):
    try:
        return tokens.read_token(pf.secret_key, purpose, token, max_age=max_age)
    except tokens.InvalidToken as exc:
        raise BadRequest(f"{exc}.") from exc


@router.get("/subscriptions/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str, pf: Paperfeed = Depends(get_pf)) -> HTMLResponse:
    """The confirm button (a GET must not confirm: scanners follow links)."""
    payload = _read(pf, tokens.CONFIRM, token, tokens.CONFIRM_MAX_AGE)
    with pf.db.transaction() as conn:
        sub = subscriptions.get(conn, payload.subscription_id)
    if sub is None or sub.status != "pending" or sub.confirm_nonce != payload.value:
        raise BadRequest("This confirmation link has already been used or replaced.")
    return _message(
        request,
        "Confirm your subscription",
        f"Send {sub.label.lower()} ({sub.cadence}, at {sub.send_hour:02d}:00 {sub.timezone})"
        f" to {sub.email}?",
        action_url=f"/subscriptions/confirm/{token}",
        action_label="Confirm",
        with_csrf=True,
    )


@router.post(
    "/subscriptions/confirm/{token}",
    response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
def confirm(request: Request, token: str, pf: Paperfeed = Depends(get_pf)) -> HTMLResponse:
    """Activate the subscription (once: the link's nonce is cleared)."""
    payload = _read(pf, tokens.CONFIRM, token, tokens.CONFIRM_MAX_AGE)
    with pf.db.transaction() as conn:
        sub = subscriptions.confirm(conn, payload.subscription_id, payload.value)
    if sub is None:
        raise BadRequest("This confirmation link has already been used or replaced.")
    manage = Links(pf.settings.base_url, pf.secret_key).manage(sub)
    return _message(
        request,
        "Subscribed",
        f"Your first {sub.cadence} digest arrives at {sub.send_hour:02d}:00 "
        f"({sub.timezone}) when there are new papers.",
        manage_url=manage,
    )


def _managed(pf: Paperfeed, token: str) -> subscriptions.Subscription:
    payload = _read(pf, tokens.MANAGE, token)
    with pf.db.transaction() as conn:
        sub = subscriptions.by_link(conn, payload.subscription_id, payload.value)
    if sub is None:
        raise NotFound("This subscription no longer exists.")
    return sub


def _manage_page(request: Request, sub, token: str, status: int = 200, **extra: Any):
    context = _schedule(
        sub=sub,
        action_url=f"/subscriptions/manage/{token}",
        cadence=sub.cadence,
        send_hour=sub.send_hour,
        send_weekday=sub.send_weekday,
        timezone=sub.timezone,
        **extra,
    )
    return render(request, "subscriptions/manage.html", context, status_code=status)


@router.get("/subscriptions/manage/{token}", response_class=HTMLResponse)
def manage_page(request: Request, token: str, pf: Paperfeed = Depends(get_pf)) -> HTMLResponse:
    """Change the schedule, pause, resume or unsubscribe (no sign-in needed)."""
    return _manage_page(request, _managed(pf, token), token)


@router.post(
    "/subscriptions/manage/{token}",
    response_class=HTMLResponse,
    dependencies=[Depends(csrf_protect)],
)
def manage(
    request: Request,
    token: str,
    action: str = Form(...),
    cadence: str = Form("daily"),
    send_hour: int = Form(7),
    send_weekday: int = Form(1),
    timezone: str = Form("UTC"),
    pf: Paperfeed = Depends(get_pf),
) -> HTMLResponse:
    """Apply one change from the manage page."""
    sub = _managed(pf, token)
    done = {
        "pause": "Paused.",
        "resume": "Resumed.",
        "unsubscribe": "Unsubscribed.",
        "save": "Saved.",
    }
    if action not in done:
        raise BadRequest("Unknown action.")
    try:
        with pf.db.transaction() as conn:
            if action == "save":
                subscriptions.change_schedule(
                    conn,
                    sub.id,
                    cadence=cadence,
                    send_hour=send_hour,
                    send_weekday=send_weekday,
                    timezone=timezone,
                )
            elif action == "pause":
                subscriptions.pause(conn, sub.id)
            elif action == "resume":
                subscriptions.resume(conn, sub.id)
            else:
                subscriptions.unsubscribe(conn, sub.id)
            sub = subscriptions.get(conn, sub.id)
    except subscriptions.SubscriptionError as exc:
        return _manage_page(request, sub, token, status=422, error=str(exc))
    return _manage_page(request, sub, token, flash_text=done[action])


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, pf: Paperfeed = Depends(get_pf)):
    """A button that unsubscribes (GET alone changes nothing: scanners follow links)."""
    payload = _read(pf, tokens.UNSUBSCRIBE, token)
    with pf.db.transaction() as conn:
        sub = subscriptions.by_link(conn, payload.subscription_id, payload.value)
    if sub is None or sub.status == "unsubscribed":
        return _message(request, "Unsubscribed", "This address gets no more of these emails.")
    return _message(
        request,
        "Unsubscribe",
        f"Stop sending “{sub.label}” to {sub.email}?",
        action_url=f"/unsubscribe/{token}",
        action_label="Unsubscribe",
        one_click=True,
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str, pf: Paperfeed = Depends(get_pf)) -> HTMLResponse:
    """RFC 8058 one-click unsubscribe: works with one POST, no cookies, no sign-in."""
    payload = _read(pf, tokens.UNSUBSCRIBE, token)
    with pf.db.transaction() as conn:
        sub = subscriptions.by_link(conn, payload.subscription_id, payload.value)
        if sub is not None:
            subscriptions.unsubscribe(conn, sub.id)
    return _message(request, "Unsubscribed", "This address gets no more of these emails.")


@router.get("/subscriptions", response_class=HTMLResponse)
def my_subscriptions(
    request: Request, pf: Paperfeed = Depends(get_pf), user: User = Depends(require_user)
) -> HTMLResponse:
    """The signed-in user's subscriptions, each with its manage link."""
    links = Links(pf.settings.base_url, pf.secret_key)
    with pf.db.transaction() as conn:
        subs = subscriptions.for_user(conn, user.id)
    items = [{"sub": s, "manage_url": links.manage(s)} for s in subs]
    return render(request, "subscriptions/list.html", {"subs": items})
