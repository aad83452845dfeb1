"""Which database a web request reads from: a replica for reads, the primary after a write.

With read replicas configured, a GET or HEAD request (pages, search, feeds,
the API's reads) runs inside `db.replica_reads(...)`. Any other method writes
and runs on the primary; when it is done, the browser gets a `pf_lsn` cookie
holding the primary's WAL position after its write, kept for
PAPERFEED_READ_PIN_SECONDS. While the cookie lives, that browser is served
only by a replica that has replayed past it, else by the primary: whoever
just voted, saved or commented sees it on the next page (read-your-writes).

A GET that turns out to write (a session's sliding expiry, a one-click
unsubscribe) or meets a replica that just died raises `ReplicaUnusable`
before any byte of the response went out; the request is then run again on
the primary. Health checks always look at the primary.
"""

from __future__ import annotations

import logging
import re

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.db import Database, ReplicaUnusable
from paperfeed.db.replicas import parse_lsn

log = logging.getLogger("paperfeed.web")

LSN_COOKIE = "pf_lsn"
_LSN = re.compile(r"^[0-9A-F]{1,8}/[0-9A-F]{1,8}$")
_READS = {"GET", "HEAD"}
# Always the primary: whether the primary answers is what a health check asks.
_PRIMARY_PATHS = {"/healthz", "/metrics"}


def _cookie_lsn(scope: Scope) -> int:
    for key, value in scope.get("headers", []):
        if key != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            name, _, text = part.strip().partition("=")
            if name == LSN_COOKIE and _LSN.match(text):
                return parse_lsn(text)
    return 0


class ReadRoutingMiddleware:
    """Route GET/HEAD reads to a replica, pin a browser to the primary after its writes."""

    def __init__(
        self, app: ASGIApp, *, db: Database, pin_seconds: float, secure_cookies: bool = False
    ) -> None:
        self.app = app
        self.db = db
        self.pin_seconds = pin_seconds
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.db.replicas is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] in _READS and scope.get("path") not in _PRIMARY_PATHS:
            await self._read(scope, receive, send)
        elif scope["method"] in _READS:
            await self.app(scope, receive, send)
        else:
            await self._write(scope, receive, send)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            with self.db.replica_reads(_cookie_lsn(scope)):
                await self.app(scope, receive, send_wrapper)
            return
        except ReplicaUnusable as exc:
            if started:
                raise
            log.info("%s %s: again on the primary (%s)", scope["method"], scope["path"], exc)

        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        await self.app(scope, no_body, send)

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                # The handler has committed by the time it answers; its write is at
                # or before the primary's position now.
                lsn = await anyio.to_thread.run_sync(self._position)
                if lsn:
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", self._pin_cookie(lsn)))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _position(self) -> int:
        try:
            return self.db.write_position()
        except Exception:  # a failed look-up only costs the pin, never the response
            log.exception("could not read the primary's WAL position")
            return 0

    def _pin_cookie(self, lsn: int) -> bytes:
        text = f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"
        cookie = (
            f"{LSN_COOKIE}={text}; Path=/; HttpOnly; SameSite=Lax; Max-Age={int(self.pin_seconds)}"
        )
        if self.secure_cookies:
            cookie += "; Secure"
        return cookie.encode()
