"""Hosting under a sub-path (`https://example.org/papers/`): PAPERFEED_ROOT_PATH.

The app itself knows only its own paths (`/papers/12`, `/static/style.css`);
this middleware maps them to the public ones and back, so no template, route
or redirect has to know the prefix:

- a request for `<root>/…` is served as `/…` (the proxy passes the full path);
  a request without the prefix (a health check straight to the node) is
  served as it is;
- a redirect's `Location: /…` becomes `<root>/…`;
- in HTML, every `href`, `src`, `action` and `formaction` that is a local
  absolute path gets the prefix, and `<html>` carries `data-root` so that
  app.js prefixes the API calls and page changes it makes.

Feeds and emails use PAPERFEED_BASE_URL, which holds the same path.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LOCAL_URL = re.compile(rb"""(\s(?:href|src|action|formaction)=)(["'])/(?![/\\])""")
_HTML_TAG = re.compile(rb"<html\b", re.IGNORECASE)


def normalise(value: str) -> str:
    """'/papers/' -> '/papers'; '' and '/' -> '' (served at the top)."""
    value = value.strip().rstrip("/")
    if value and not value.startswith("/"):
        value = "/" + value
    return value


class RootPath:
    """Strips the root path from requests and adds it to every URL a response carries."""

    def __init__(self, app: ASGIApp, *, root: str) -> None:
        self.app = app
        self.root = root
        self.encoded = root.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == self.root or path.startswith(self.root + "/"):
            inner = path[len(self.root) :] or "/"
            raw = scope.get("raw_path")
            if raw is not None and raw.startswith(self.encoded):
                raw = raw[len(self.encoded) :] or b"/"
            scope = {**scope, "path": inner, "raw_path": raw}
        started: dict[str, Message] = {}
        chunks: list[bytes] = []

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [self._location(k, v) for k, v in message.get("headers", [])]
                message = {**message, "headers": headers}
                ctype = next((v for k, v in headers if k == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    started["start"] = message  # held until the whole page is there
                    return
            elif message["type"] == "http.response.body" and "start" in started:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = self._rewrite(b"".join(chunks))
                start = started.pop("start")
                headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                message = {"type": "http.response.body", "body": body}
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _location(self, key: bytes, value: bytes) -> tuple[bytes, bytes]:
        if key == b"location" and value.startswith(b"/") and not value.startswith(b"//"):
            return key, self.encoded + value
        return key, value

    def _rewrite(self, body: bytes) -> bytes:
        body = _LOCAL_URL.sub(lambda m: m.group(1) + m.group(2) + self.encoded + b"/", body)
        return _HTML_TAG.sub(b'<html data-root="' + self.encoded + b'"', body, count=1)
