"""One ASGI middleware for what every response needs.

It gives each request an id (echoed as `X-Request-ID`), writes the access
log line, adds the security headers, hands out the CSRF cookie on first
visit, and turns any unhandled exception into a logged 500 whose page shows
only the request id: no stack trace ever reaches a client.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
import uuid
from http.cookies import SimpleCookie

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed import logs
from paperfeed.web.deps import CSRF_COOKIE, HOST_PREFIX
from paperfeed.web.errors import wants_json

access_log = logging.getLogger("paperfeed.web.access")
error_log = logging.getLogger("paperfeed.web")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Scripts only from our own origin (no inline script anywhere); styles too.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets inline style attributes; scripts stay 'self' only.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

# Sent only when the base URL is https (a browser ignores it over plain http anyway).
HSTS = (b"strict-transport-security", b"max-age=31536000")


def _local_location(key: bytes, value: bytes, host: bytes) -> tuple[bytes, bytes]:
    """A redirect to this same host made relative: the framework builds trailing-slash
    redirects from the request's Host header, which a client (or a cache) can set to
    any site; a relative Location cannot send anyone elsewhere."""
    if key != b"location" or not host:
        return key, value
    for scheme in (b"http://", b"https://"):
        prefix = scheme + host
        if value.startswith(prefix) and value[len(prefix) : len(prefix) + 1] in (b"/", b""):
            return key, value[len(prefix) :] or b"/"
    return key, value


def _shared_cache(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a response may be kept by shared caches: such a reply must not set a cookie,
    or a proxy would hand one visitor's CSRF cookie to everyone."""
    return any(k == b"cache-control" and b"public" in v.lower() for k, v in headers)


# Paths whose last segment is a secret (signed mail links), and query parameters that are.
_SECRET_PATHS = re.compile(r"^(/subscriptions/(?:confirm|manage)/|/unsubscribe/)[^/]+")
_SECRET_PARAMS = re.compile(
    r"(^|&)((?:token|key|secret|password|nonce|signature|sig|api_key|access_token)=)[^&]*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def _escape_controls(text: str) -> str:
    """Control characters as \\xNN (and backslash, quote doubled up) so one request is one line."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 32 or 127 <= code < 160 or ch in "\u2028\u2029":
            out.append(f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}")
        elif ch in '\\"':
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def loggable_target(path: str, query: str = "") -> str:
    """The request target as the access log may show it: secrets redacted, controls escaped.

    Tokens in confirm/manage/unsubscribe links and secret query parameters
    (reset tokens, private feed tokens) would let anyone who reads the log act
    as their owner, so they never reach it; the path is percent-decoded by the
    server, so `%0a` or an escape sequence would otherwise forge log lines.
    """
    path = _SECRET_PATHS.sub(lambda m: m.group(1) + REDACTED, path)
    query = _SECRET_PARAMS.sub(lambda m: m.group(1) + m.group(2) + REDACTED, query)
    return _escape_controls(path + ("?" + query if query else ""))


_ERROR_HTML = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Server error</title>"
    '<link rel=stylesheet href="/static/style.css"><main class="container error-page">'
    "<h1>Something went wrong</h1><p>The error has been logged. Request id: <code>{rid}</code></p>"
    '<p><a href="/">Back to the home page</a></p></main></html>'
)


def _cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    for key, value in headers:
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is ignored, not fatal
                continue
            if name in jar:
                return jar[name].value
    return None


class WebMiddleware:
    """Request id, access log, security headers, CSRF cookie and the last-resort 500."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool = False) -> None:
        self.app = app
        self.secure_cookies = secure_cookies
        # Over https: a host-only, Secure cookie nobody else can plant, and HSTS.
        self.csrf_cookie = HOST_PREFIX + CSRF_COOKIE if secure_cookies else CSRF_COOKIE
        self.extra_headers = [HSTS] if secure_cookies else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        # HEAD is GET without the body (RFC 9110): routes are declared for GET only.
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        host = dict(headers).get(b"host", b"")
        incoming = dict(headers).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        # Every log line written while serving this request names it (paperfeed.logs).
        rid_token = logs.request_id.set(rid)
        new_csrf = None
        if not _cookie(headers, self.csrf_cookie):
            new_csrf = secrets.token_urlsafe(24)
            state["csrf_secret"] = new_csrf
        path = scope.get("path", "")
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                out = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                out.append((b"x-request-id", rid.encode()))
                csp = DOCS_CSP if path == "/api/docs" else CSP
                if not any(k == b"content-security-policy" for k, _ in out):
                    out.append((b"content-security-policy", csp.encode()))
                if 300 <= message["status"] < 400:
                    out = [_local_location(k, v, host) for k, v in out]
                present = {k for k, _ in out}
                out.extend(h for h in SECURITY_HEADERS + self.extra_headers if h[0] not in present)
                if new_csrf and not _shared_cache(out):
                    out.append((b"set-cookie", self._csrf_cookie(new_csrf)))
                message = {**message, "headers": out}
            elif message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            error_log.exception(
                "unhandled error in %s %s [request %s]",
                scope["method"],
                loggable_target(path),
                rid,
            )
            if not status["sent"]:
                await self._send_500(scope, send_wrapper, rid)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            client = scope.get("client") or ("-", 0)
            query = scope.get("query_string", b"").decode("latin-1")
            # Static files would drown the page and API lines: DEBUG only. The request
            # id is still set here, so the formatter adds it (paperfeed.logs).
            access_log.log(
                logging.DEBUG if path.startswith("/static/") else logging.INFO,
                '%s "%s %s" %s %.1fms',
                client[0],
                scope["method"],
                loggable_target(path, query),
                status["code"],
                elapsed,
            )
            logs.request_id.reset(rid_token)

    def _csrf_cookie(self, value: str) -> bytes:
        cookie = f"{self.csrf_cookie}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000"
        if self.secure_cookies:
            cookie += "; Secure"
        return cookie.encode()

    async def _send_500(self, scope: Scope, send: Send, rid: str) -> None:
        accept = dict(scope.get("headers", [])).get(b"accept", b"").decode("latin-1")
        if wants_json(scope.get("path", ""), accept):
            body = json.dumps(
                {"error": {"status": 500, "message": f"Internal server error (request {rid})"}}
            ).encode()
            ctype = b"application/json"
        else:
            body = _ERROR_HTML.format(rid=rid).encode()
            ctype = b"text/html; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
