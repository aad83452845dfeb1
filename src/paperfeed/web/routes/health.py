"""GET /healthz: the process answers and the database does too."""

from __future__ import annotations

import logging

import psycopg
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from paperfeed.app import Paperfeed
from paperfeed.web.deps import get_pf

router = APIRouter()
log = logging.getLogger("paperfeed.web")


@router.get("/healthz", include_in_schema=False)
def healthz(pf: Paperfeed = Depends(get_pf)) -> JSONResponse:
    """200 with the schema version when the database answers, 503 when it does not."""
    try:
        version = pf.db.schema_version()
    except (psycopg.Error, OSError) as exc:
        log.warning("health check failed: %s", exc)
        body = {"status": "unavailable", "database": "unreachable"}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "schema_version": version})
