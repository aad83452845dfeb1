"""Load shedding: a bounded number of requests in flight per web worker.

Without a bound, overload queues requests without limit (at 1,000 concurrent
slow requests the median waited 37 s) and health checks wait in the same queue,
so a checker kills an instance that is merely busy. Beyond
PAPERFEED_MAX_REQUESTS requests in flight this answers 503 with Retry-After at
once; /healthz and /readyz always pass (they never queue: see routes/health.py).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

ALWAYS = frozenset({"/healthz", "/readyz", "/metrics"})
RETRY_AFTER = "2"


class LoadShedding:
    """Refuse, quickly, what the worker could only queue."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in ALWAYS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _busy(scope, send)
            return
        self.in_flight += 1  # one event loop per worker: no lock needed
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _busy(scope: Scope, send: Send) -> None:
    path = scope.get("path", "")
    if path.startswith("/api/"):
        body = json.dumps({"error": {"status": 503, "message": "Busy: try again shortly"}})
        ctype = b"application/json"
    else:
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Busy</title>"
            "<h1>paperfeed is busy</h1><p>Too many requests at once; try again in a moment.</p>"
        )
        ctype = b"text/html; charset=utf-8"
    data = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", ctype),
                (b"content-length", str(len(data)).encode()),
                (b"retry-after", RETRY_AFTER.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
