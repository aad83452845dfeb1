"""Static files under content-hashed URLs, so browsers may keep them for a year.

Templates write `{{ asset('style.css') }}`, which becomes
`/static/<first 12 hex digits of the file's SHA-256>/style.css`. A new version
of the file has a new URL, so the old one can be cached "forever" (immutable);
the plain `/static/style.css` still works, with a short lifetime, for anything
that links to it directly (the 500 page, old bookmarks).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"
YEAR = "public, max-age=31536000, immutable"
SHORT = "public, max-age=3600"
_HASHED = re.compile(r"^([0-9a-f]{12})/(.+)$")
# (name, mtime_ns, size) -> digest: a file edited while the server runs gets a new URL.
_digests: dict[tuple[str, int, int], str] = {}


def digest(name: str) -> str:
    """The first 12 hex digits of the static file's SHA-256."""
    path = STATIC / name
    stat = path.stat()
    key = (name, stat.st_mtime_ns, stat.st_size)
    found = _digests.get(key)
    if found is None:
        found = _digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return found


def asset(name: str) -> str:
    """The content-hashed URL of a file in web/static (a template global)."""
    return f"/static/{digest(name)}/{name}"


class HashedStatic(StaticFiles):
    """web/static, also under /static/<digest>/…, with cache lifetimes to match."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC)

    async def get_response(self, path: str, scope: Scope) -> Response:
        match = _HASHED.match(path)
        name = match.group(2) if match else path
        response = await super().get_response(name, scope)
        if response.status_code in (200, 304):
            current = match is not None and _current(name, match.group(1))
            response.headers["cache-control"] = YEAR if current else SHORT
        return response


def _current(name: str, wanted: str) -> bool:
    try:
        return digest(name) == wanted
    except OSError:
        return False
