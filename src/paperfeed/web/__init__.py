"""The web app: `create_app(paperfeed)` builds the FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from paperfeed import catalogue
from paperfeed.app import Paperfeed


def create_app(pf: Paperfeed) -> FastAPI:
    """Build the web application around one Paperfeed object."""
    web = FastAPI(title="paperfeed", docs_url="/api/docs", openapi_url="/api/openapi.json")
    web.state.paperfeed = pf

    @web.get("/", response_class=HTMLResponse)
    def home() -> str:
        n = catalogue.count_papers(pf.db)
        return f"<!doctype html><title>paperfeed</title><h1>paperfeed</h1><p>{n} papers</p>"

    @web.get("/healthz")
    def healthz() -> JSONResponse:
        with pf.db.connection() as conn:
            conn.execute("SELECT 1")
        return JSONResponse({"status": "ok"})

    return web


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment."""
    return create_app(Paperfeed())
