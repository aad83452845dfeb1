"""The web app: `create_app(paperfeed)` builds the FastAPI application.

Every module in `paperfeed/web/routes/` that defines a module-level `router`
(an `APIRouter`) is included automatically, in module-name order, so a new
page or API group is one new file (see docs/web-extending.md). Templates live
in `web/templates/`, our own CSS and JS in `web/static/` (nothing is loaded
from another origin).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from paperfeed import logs
from paperfeed.app import Paperfeed
from paperfeed.web import deps, errors, finder, routes
from paperfeed.web.assets import HashedStatic
from paperfeed.web.hashing import HashGate
from paperfeed.web.limits import LoadShedding
from paperfeed.web.middleware import WebMiddleware
from paperfeed.web.read_routing import ReadRoutingMiddleware
from paperfeed.web.root_path import RootPath
from paperfeed.web.uploads import BibtexParses

API_DESCRIPTION = """JSON API of paperfeed. Field names are stable (see docs/web.md).
Reads need no authentication. Votes need a signed-in browser session plus the
`X-CSRF-Token` header, or `Authorization: Bearer <token>` with a personal API token
created on the account page. Errors are always `{"error": {"status", "message"}}`."""


def _swagger_assets() -> Path | None:
    """Swagger UI 5 (OpenAPI 3.1) as shipped by the swagger-ui-py package, if installed."""
    try:
        import swagger_ui
    except ImportError:  # /api/docs then links to the raw schema only
        return None
    folder = Path(swagger_ui.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").exists() else None


def _routers() -> list:
    found = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            found.append(router)
    return found


def create_app(pf: Paperfeed) -> FastAPI:
    """Build the web application around one Paperfeed object."""
    web = FastAPI(
        title="paperfeed API",
        version="1",
        description=API_DESCRIPTION,
        docs_url=None,  # served by routes/docs.py with local assets and a strict CSP
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    web.state.paperfeed = pf
    # Bounded CPU work that must never hold a database connection (docs/security.md).
    web.state.hash_gate = HashGate(pf.settings.hash_slots, pf.settings.hash_queue)
    web.state.bibtex_parses = BibtexParses(pf.settings)
    errors.install(web, render_page=deps.render)
    web.mount("/static", HashedStatic(), name="static")
    swagger = _swagger_assets()
    if swagger is not None:
        web.mount("/api/docs-assets", StaticFiles(directory=swagger), name="swagger")
    for router in _routers():
        web.include_router(router)
    if pf.settings.metrics:
        from paperfeed.web import metrics

        # Innermost middleware: by then the router has named the route template.
        metrics.install(web, pf)
    secure = pf.settings.base_url.startswith("https://")
    if pf.settings.read_urls:
        # Inside WebMiddleware: a read redone on the primary never reaches its 500 path.
        web.add_middleware(
            ReadRoutingMiddleware,
            db=pf.db,
            pin_seconds=pf.settings.read_pin_seconds,
            secure_cookies=secure,
        )
    web.add_middleware(WebMiddleware, secure_cookies=secure)
    # Outermost: shed load before any other work is done for a request.
    web.add_middleware(LoadShedding, limit=pf.settings.max_requests)
    # A fresh install exports the model first (15-80 s): in the background, so the
    # first search answers by keyword at once instead of waiting for it.
    finder.prepare_in_background(pf)
    if pf.settings.public_root:
        # Inside gzip: page URLs are rewritten before the body is compressed.
        web.add_middleware(RootPath, root=pf.settings.public_root)
    # Outermost: pages, JSON, feeds and static text shrink 4-8x on the wire.
    web.add_middleware(GZipMiddleware, minimum_size=800, compresslevel=6)
    return web


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment."""
    pf = Paperfeed()
    logs.setup(pf.settings.log_level, pf.settings.log_format)
    return create_app(pf)
