"""Errors that carry their HTTP status, and the one place that renders them.

Raise `NotFound`, `BadRequest`, `Unauthorized`, `Forbidden`, `Conflict` or
`TooManyRequests` anywhere in a request. `install(app)` turns them (and
FastAPI's own 404/405/422) into an HTML error page for browsers or the one
JSON shape `{"error": {"status": int, "message": str}}` for the API. Anything
else is logged with the request id by the middleware and becomes a bare 500:
no stack trace ever reaches a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import quote

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

# render(request, template, context, status_code=...) -> HTMLResponse, as web.deps.render.
PageRenderer = Callable[..., Response]

log = logging.getLogger("paperfeed.web")

_REASONS = {
    400: "Bad request",
    401: "Sign in required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


DATABASE_DOWN_MESSAGE = "The database is unavailable right now; try again in a moment."
_DOWN_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Service unavailable</title>"
    '<link rel=stylesheet href="/static/style.css"><main class="container error-page">'
    f"<h1>Service unavailable</h1><p>{DATABASE_DOWN_MESSAGE}</p></main></html>"
)


class WebError(Exception):
    """An error with an HTTP status and a message safe to show to the user."""

    status = 500

    def __init__(self, message: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message or _REASONS.get(self.status, "Error"))
        self.message = message or _REASONS.get(self.status, "Error")
        self.headers = headers or {}


class BadRequest(WebError):
    status = 400


class Unauthorized(WebError):
    status = 401


class Forbidden(WebError):
    status = 403


class NotFound(WebError):
    status = 404


class Conflict(WebError):
    status = 409


class TooManyRequests(WebError):
    status = 429


class ServiceUnavailable(WebError):
    status = 503


READ_ONLY_MESSAGE = (
    "This paperfeed is read-only for now: its database is a read replica. Browsing and"
    " search work; votes, saves, sign-ins and submissions need the primary database."
)


def wants_json(request_path: str, accept: str) -> bool:
    """API paths always get JSON; other paths only when the client asks for it."""
    if request_path.startswith("/api/") or request_path == "/healthz":
        return True
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The error as JSON for the API or as the HTML error page for browsers."""
    if wants_json(request.url.path, request.headers.get("accept", "")):
        body = {"error": {"status": status, "message": message}}
        return JSONResponse(body, status_code=status, headers=headers)
    return html_error(request, status, message, headers)


def html_error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """Render the error page (the renderer `install` was given); plain text if that fails."""
    try:
        # The page renderer lives in web.deps, which imports this module for its
        # error classes; it is handed over at install time instead of imported.
        render_page: PageRenderer = request.app.state.render_error_page
        response = render_page(
            request,
            "error.html",
            {"status": status, "reason": _REASONS.get(status, "Error"), "message": message},
            status_code=status,
        )
    except Exception:  # the error page must never raise a second error
        log.exception("error page failed to render")
        response = HTMLResponse(
            "<!doctype html><title>Error</title><h1>Error</h1>", status_code=status
        )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else err.get("msg", ""))
    return "; ".join(parts) or "invalid input"


def sign_in_url(request: Request) -> str:
    """The sign-in page, coming back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/signin?next={quote(here, safe='/')}"


def _sign_in_instead(request: Request) -> bool:
    # A browser opening a page that needs an account is sent to sign in (and back);
    # the API and scripts keep their 401.
    return request.method in ("GET", "HEAD") and not wants_json(
        request.url.path, request.headers.get("accept", "")
    )


def allowed_methods(request: Request) -> str:
    """Every method some route answers on this path, for a 405's Allow header: the
    router names only the first route whose path matched, so a GET and a DELETE
    declared as two routes (as FastAPI declares them) would each hide the other."""
    from fastapi.routing import iter_route_contexts
    from starlette.routing import Match

    methods: set[str] = set()
    # Routes of included routers are reached through their contexts (FastAPI >= 0.16x).
    for route in iter_route_contexts(request.app.router.routes):
        route_methods = route.methods
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route_methods
    if "GET" in methods:
        methods.add("HEAD")  # answered as GET (web/middleware.py)
    return ", ".join(sorted(methods))


def install(app: FastAPI, render_page: PageRenderer) -> None:
    """Register the handlers that give every error the same shape; pages use `render_page`."""
    app.state.render_error_page = render_page

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError) -> Response:
        if exc.status == 401 and _sign_in_instead(request):
            return RedirectResponse(sign_in_url(request), status_code=303)
        return error_response(request, exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else _REASONS.get(exc.status_code, "")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return error_response(request, exc.status_code, message, headers)

    @app.exception_handler(psycopg.errors.ReadOnlySqlTransaction)
    async def _read_only(request: Request, exc: psycopg.errors.ReadOnlySqlTransaction) -> Response:
        # PAPERFEED_DATABASE_URL names a standby: reading works, writing cannot.
        log.warning("write refused, the database is read-only: %s %s", request.method, exc)
        return error_response(request, 503, READ_ONLY_MESSAGE, {"Retry-After": "300"})

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(psycopg.InterfaceError)
    async def _database_down(request: Request, exc: psycopg.Error) -> Response:
        # The pool gave up after a few seconds (db.POOL_WAIT) or a connection broke:
        # answer at once, and render nothing that would ask the database again.
        log.warning("database unavailable: %s %s: %s", request.method, request.url.path, exc)
        headers = {"Retry-After": "5"}
        if wants_json(request.url.path, request.headers.get("accept", "")):
            body = {"error": {"status": 503, "message": DATABASE_DOWN_MESSAGE}}
            return JSONResponse(body, status_code=503, headers=headers)
        return HTMLResponse(_DOWN_PAGE, status_code=503, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 422, _validation_message(exc))
