"""The FastAPI dependencies and helpers every router uses.

- `get_pf(request)`: the Paperfeed object (settings, database).
- `current_user(request)`: the signed-in `accounts.User` or None (session
  cookie, or `Authorization: Bearer <api token>` for scripts).
- `require_user`: the same, but raises Unauthorized (401) when nobody is signed in.
- `require_session`: like require_user, but refuses (403) requests authenticated by
  an API token: minting tokens needs a password-backed browser session.
- `csrf_protect`: put it in `dependencies=[Depends(csrf_protect)]` of every
  state-changing route; it checks the `csrf_token` form field or the
  `X-CSRF-Token` header (requests authenticated by a bearer token are exempt:
  a browser never adds that header by itself).
- `render(request, "dir/page.html", {...})`: a page from web/templates with
  `user`, `csrf_token`, `request` and `settings` already in its context.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts, authors, comments, library, links
from paperfeed.db import snapshot
from paperfeed.model import http_url
from paperfeed.web import cached
from paperfeed.web.assets import asset
from paperfeed.web.errors import BadRequest, Forbidden, Unauthorized

SESSION_COOKIE = "pf_session"
CSRF_COOKIE = "pf_csrf"
# Under https both cookies carry this prefix: the browser then accepts them only
# Secure, host-only and for Path=/, so no other host (or plain-http port) can
# plant one of ours ("cookie tossing").
HOST_PREFIX = "__Host-"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def safe_url(value: str | None) -> str:
    """An outside URL usable in href (model.http_url's policy); anything else becomes '#'."""
    return http_url(value) or "#"


def highlight(value: str | None) -> Markup:
    """Escape a snippet, then turn only the <mark> … </mark> markers back into tags.

    Markers come from ts_headline (\x02 … \x03, or the escaped tags), and a cut
    snippet may hold any of them unpaired: a mark opens only when none is open and
    closes only an open one, so the tags always balance.
    """
    escaped = str(escape(value or ""))
    escaped = escaped.replace("&lt;mark&gt;", "\x02").replace("&lt;/mark&gt;", "\x03")
    out: list[str] = []
    is_open = False
    for part in _MARKERS.split(escaped):
        if part == "\x02":
            if not is_open:
                out.append("<mark>")
            is_open = True
        elif part == "\x03":
            if is_open:
                out.append("</mark>")
            is_open = False
        else:
            out.append(part)
    if is_open:
        out.append("</mark>")
    return Markup("".join(out))


_MARKERS = re.compile("([\x02\x03])")


def linkify(value: str | None) -> Markup:
    """Escaped text in which every http(s) URL is a link (rel="nofollow noopener")."""
    text = value or ""
    out, at = [], 0
    for start, end, url in links.url_spans(text):
        out.append(str(escape(text[at:start])))
        out.append(f'<a href="{escape(url)}" rel="nofollow noopener">{escape(text[start:end])}</a>')
        at = end
    out.append(str(escape(text[at:])))
    return Markup("".join(out))


# Other routers add their entries here at import time: (label, href, nav key).
NAV_LINKS: list[tuple[str, str, str]] = []
FOOTER_LINKS: list[tuple[str, str]] = []
templates.env.globals["nav_links"] = NAV_LINKS
templates.env.globals["footer_links"] = FOOTER_LINKS
templates.env.filters["safe_url"] = safe_url
templates.env.filters["highlight"] = highlight
templates.env.filters["author_slug"] = authors.slug_of
templates.env.filters["linkify"] = linkify
templates.env.filters["comment_html"] = comments.html_of
templates.env.globals["link_labels"] = links.LABELS
templates.env.globals["asset"] = asset


@functools.cache
def _card_text_macro() -> Any:
    return templates.env.get_template("_macros.html").module.card_text


def cached_card_text(paper: dict[str, Any]) -> Markup:
    """A card's text (the `card_text` macro), rendered once per version of the paper."""
    return cached.card_text(paper, _card_text_macro())


templates.env.globals["cached_card_text"] = cached_card_text


def get_pf(request: Request) -> Paperfeed:
    """The Paperfeed object the app was built around."""
    return request.app.state.paperfeed


def cookie_name(base_url: str, name: str) -> str:
    """The name a cookie has on this instance: `__Host-` prefixed when served over https."""
    return HOST_PREFIX + name if base_url.startswith("https://") else name


def session_cookie(request: Request) -> str:
    """The name of the session cookie on this instance."""
    return cookie_name(get_pf(request).settings.base_url, SESSION_COOKIE)


def session_token(request: Request) -> str | None:
    """This browser's session token (the cookie's value), if it sent one."""
    return request.cookies.get(session_cookie(request))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def load_user(request: Request) -> accounts.User | None:
    """Look the requester up once per request (cached on request.state)."""
    if hasattr(request.state, "user"):
        return request.state.user
    user = None
    pf = get_pf(request)
    token = _bearer(request)
    cookie = session_token(request)
    if token or cookie:
        # On the primary even for reads served by a replica: a session or token
        # made a moment ago may not be on the replica yet, and the look-up
        # often writes (a session's sliding expiry, a token's last use).
        with pf.db.primary_reads(), pf.db.transaction() as conn:
            if token:
                user = accounts.api_token_user(conn, token)
            else:
                user = accounts.session_user(conn, cookie or "")
    request.state.user = user
    request.state.by_session = user is not None and token is None
    return user


def current_user(request: Request) -> accounts.User | None:
    """The signed-in user, or None for anonymous visitors."""
    return load_user(request)


def require_user(user: accounts.User | None = Depends(current_user)) -> accounts.User:
    """The signed-in user; anonymous requests get 401."""
    if user is None:
        raise Unauthorized("Please sign in first.")
    return user


def require_session(request: Request, user: accounts.User = Depends(require_user)) -> accounts.User:
    """The user signed in with a browser session (a password), not with an API token.

    For what a token must never do by itself: mint more tokens, or anything a
    stolen token could use to outlive its revocation.
    """
    if not getattr(request.state, "by_session", False):
        raise Forbidden("This needs a signed-in browser session, not an API token.")
    return user


def csrf_secret(request: Request) -> str:
    """The per-browser CSRF secret from the cookie the middleware sets."""
    name = cookie_name(get_pf(request).settings.base_url, CSRF_COOKIE)
    return getattr(request.state, "csrf_secret", None) or request.cookies.get(name, "")


def csrf_token_for(secret_key: str, cookie_value: str, session: str = "") -> str:
    """The CSRF token for a CSRF cookie value and a session: HMAC-SHA256 under the instance key.

    The session is part of the message so that a token is good only for the
    session it was shown to: someone who plants their own CSRF cookie in a
    victim's browser (from another port of the same host, which shares its
    cookies) holds a matching token for *their* session, never for the victim's.
    """
    message = b"csrf:" + cookie_value.encode("utf-8") + b"\0" + session.encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token forms and scripts send back for this browser's CSRF cookie and session."""
    if getattr(request.state, "shared_render", False):
        return _CSRF_PLACEHOLDER
    session = session_token(request) or ""
    return csrf_token_for(get_pf(request).secret_key, csrf_secret(request), session)


# Stands for the visitor's CSRF token in a page rendered for every anonymous
# visitor; random per process so that no paper text can contain it.
_CSRF_PLACEHOLDER = "csrf-" + secrets.token_hex(16)


async def csrf_protect(request: Request) -> None:
    """Refuse a state-changing request that does not carry this browser's CSRF token."""
    if _bearer(request) is not None:
        # Scripts authenticate with a bearer token, which no third-party page can
        # make a browser send; an invalid token is refused by require_user instead.
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    cookie = request.cookies.get(cookie_name(get_pf(request).settings.base_url, CSRF_COOKIE))
    if not cookie or not sent:
        raise Forbidden("Missing CSRF token: reload the page and try again.")
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise Forbidden("Invalid CSRF token: reload the page and try again.")


# One-shot messages for the page after a redirect (sign-up, account changes):
# the cookie names a message here, never carries text of its own.
FLASH_COOKIE = "pf_flash"
FLASHES = {
    "signed-up": "Welcome to paperfeed! Your account is ready: upvote, save, get papers by email.",
    "email-confirmed": "Thank you: your email address is confirmed.",
    "password-changed": "Password changed. Every other session and every API token was signed out.",
    "paper-hidden": "The paper is hidden: it is gone from every list, search, feed and digest.",
    "paper-restored": "The paper is back in every list, search, feed and digest.",
    "paper-deleted": "The paper is deleted, with its sightings.",
    "paper-kept": "Not deleted: people voted for, saved or commented on it. Tick “with its"
    " votes, saves and comments” to delete it anyway, or hide it instead.",
    "paper-gone": "There is no such paper any more.",
    "submission-approved": "Approved: the submitted paper is now in public view.",
    "submission-rejected": "Rejected: the submitted paper is deleted.",
}


def set_flash(response: Response, key: str) -> None:
    """Show FLASHES[key] on the next page this browser renders."""
    response.set_cookie(FLASH_COOKIE, key, max_age=300, httponly=True, samesite="lax", path="/")


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page with the common context (user, csrf_token, settings, today)."""
    pf = get_pf(request)
    full = {
        "request": request,
        "user": load_user(request),
        "csrf_token": csrf_token(request),
        "settings": pf.settings,
        "today": date.today(),
    }
    full.update(context or {})
    flash_key = request.cookies.get(FLASH_COOKIE)
    shown = False
    if flash_key and not getattr(request.state, "shared_render", False) and not full.get("flash"):
        full["flash"] = FLASHES.get(flash_key)
        shown = True
    response = templates.TemplateResponse(
        request, template, full, status_code=status_code, headers=headers
    )
    if shown:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def shared_page(request: Request, build: Callable[[], HTMLResponse]) -> HTMLResponse:
    """`build()`'s page, shared by every visitor who is not signed in while nothing changes.

    Such a page differs between anonymous visitors only by their CSRF token, so
    it is rendered once with a placeholder token and kept under the database
    snapshot (`db.snapshot`) it was read at: an equal snapshot means equal data,
    and any commit (a vote, an import) gives a new one, so the page is rebuilt
    as soon as anything on it could have changed. Signed-in visitors see their
    own votes and saves: their pages are always built afresh.
    """
    if load_user(request) is not None:
        return build()
    pf = get_pf(request)
    # Read before build() reads its data: the page can only be newer than its key.
    with pf.db.transaction() as conn:
        now = snapshot(conn)
    key = (pf.db.url, request.url.path, request.url.query, date.today(), now)
    body = cached.shared_page(key)
    if body is None:
        request.state.shared_render = True
        try:
            response = build()
        finally:
            request.state.shared_render = False
        if response.status_code != 200:
            return _with_token(request, response.body, response.status_code)
        body = bytes(response.body)
        cached.keep_shared_page(key, body)
    return _with_token(request, body, 200)


def _with_token(request: Request, body: bytes, status_code: int) -> HTMLResponse:
    token = csrf_token(request).encode("ascii")
    return HTMLResponse(body.replace(_CSRF_PLACEHOLDER.encode("ascii"), token), status_code)


def voted_ids(conn: Any, user: accounts.User | None, papers: list[dict[str, Any]]) -> set[int]:
    """Which of these papers the user has upvoted (empty for anonymous visitors)."""
    if user is None:
        return set()
    return accounts.voted_papers(conn, user.id, [p["id"] for p in papers])


def library_states(
    conn: Any, user: accounts.User | None, papers: list[dict[str, Any]]
) -> dict[int, str]:
    """Saved / not-interested state of these papers for the user (empty for anonymous visitors)."""
    if user is None:
        return {}
    return library.states(conn, user.id, [p["id"] for p in papers])


_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}


def parse_flag(value: str | None, name: str) -> bool | None:
    """A boolean parameter: true/1/on/yes or false/0/off/no in any case; empty is unset."""
    text = (value or "").strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadRequest(f"{name} must be true or false (or 1/0, on/off).")


def parse_int(value: str | None, name: str, low: int, high: int) -> int | None:
    """A whole-number parameter within [low, high]; empty is unset (0 is a value)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        number = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number.") from None
    if not low <= number <= high:
        raise BadRequest(f"{name} must be between {low} and {high}.")
    return number


def parse_day(value: str | None, *, clamp: bool = False) -> date | None:
    """A YYYY-MM-DD query parameter, or None when absent or empty; BadRequest when malformed.

    Pages refuse a day before 1900 or after 2999 (date arithmetic near year 1 or 9999
    would overflow). The API (`clamp`) reads it as the nearest of those years' ends
    instead: its schema says `format: date`, so every real date is a valid value."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadRequest("Dates are written YYYY-MM-DD.") from None
    if clamp:
        return min(max(day, date(1900, 1, 1)), date(2999, 12, 31))
    if not 1900 <= day.year <= 2999:
        raise BadRequest("Dates must lie between the years 1900 and 2999.")
    return day
