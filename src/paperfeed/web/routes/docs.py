"""GET /api/docs: Swagger UI served from local files under a strict CSP."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()

# No inline script: static/swagger-init.js starts Swagger UI on /api/openapi.json.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>paperfeed API</title>
<link rel="stylesheet" href="/api/docs-assets/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head><body>
<p style="margin:12px 20px;font-family:system-ui,sans-serif"><a href="/">← Back to paperfeed</a></p>
<div id="swagger-ui"></div>
<noscript><p>The interactive docs need JavaScript; the schema is at
<a href="/api/openapi.json">/api/openapi.json</a>.</p></noscript>
<script src="/api/docs-assets/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body></html>"""


@router.get("/api/docs", include_in_schema=False)
def api_docs() -> HTMLResponse:
    """Interactive API documentation."""
    return HTMLResponse(_PAGE)
