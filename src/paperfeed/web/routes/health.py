"""Liveness and readiness, answered outside the request queue.

- GET /healthz (liveness): the process answers. It touches nothing else, so
  a load balancer or supervisor never restarts an instance that is merely busy
  or whose database is down (restarting would not help).
- GET /readyz (readiness): the database answers (on a connection of its own,
  not the pool a busy instance has exhausted), the schema is this code's, and
  it accepts writes. 503 with the reason otherwise: send no traffic here.

Both are async and skip the load-shedding limit (web/limits.py), and /readyz
does its blocking check on two threads of its own, so neither waits behind
queued requests.
"""

from __future__ import annotations

import logging

import anyio
import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from paperfeed.app import Paperfeed

router = APIRouter()
log = logging.getLogger("paperfeed.web")
# Readiness checks get their own threads: the default pool may be full of slow requests.
_READY_THREADS = anyio.CapacityLimiter(2)
READY_CONNECT_TIMEOUT = 2


@router.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    """200 whenever the process can answer (liveness)."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    """200 when this instance can serve (database reachable, schema current, writable)."""
    pf: Paperfeed = request.app.state.paperfeed
    body = await anyio.to_thread.run_sync(_readiness, pf, limiter=_READY_THREADS)
    return JSONResponse(body, status_code=200 if body["status"] == "ready" else 503)


def _readiness(pf: Paperfeed) -> dict[str, object]:
    from paperfeed.db import schema_state

    url = pf.db.url
    try:
        with psycopg.connect(url, connect_timeout=READY_CONNECT_TIMEOUT) as conn:
            state = schema_state(conn)
            read_only = conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
    except psycopg.Error as exc:
        log.warning("readiness: database unreachable: %s", str(exc).splitlines()[0])
        return {"status": "unavailable", "database": "unreachable"}
    if state.problem:
        return {"status": "unavailable", "database": "ok", "schema": state.problem}
    if read_only:
        return {"status": "unavailable", "database": "read-only"}
    return {"status": "ready", "database": "ok", "schema_version": state.applied}
