"""HTTP plumbing the live sources share (arXiv, Hugging Face).

The clients take the getter as a parameter (`HttpGet`), so tests run them on
recorded responses; `urllib_get` is the real one, from the standard library.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from http.client import HTTPException
from typing import NamedTuple

USER_AGENT = "paperfeed/0.1 (self-hosted research-paper discovery)"


class HttpResponse(NamedTuple):
    """What a getter returns: status, headers (any case) and the body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


# The injectable getter: (url, headers, timeout in seconds) -> response. It returns
# non-2xx statuses as responses and raises OSError for transport failures.
HttpGet = Callable[[str, Mapping[str, str], float], HttpResponse]

# Refuse to buffer absurd bodies: an OAI page is ~3 MB, a daily list ~1 MB.
MAX_BODY = 64 * 1024 * 1024


def urllib_get(url: str, headers: Mapping[str, str], timeout: float) -> HttpResponse:
    """GET `url` with the standard library; transport failures raise OSError."""
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BODY + 1)
            status, response_headers = response.status, response.headers
    except urllib.error.HTTPError as exc:  # a status, not a transport failure
        return HttpResponse(exc.code, exc.headers or {}, exc.read(MAX_BODY + 1))
    except HTTPException as exc:  # e.g. IncompleteRead: the connection broke mid-body
        raise OSError(f"broken HTTP response: {exc!r}") from exc
    if len(body) > MAX_BODY:
        raise OSError(f"response larger than {MAX_BODY} bytes")
    return HttpResponse(status, response_headers, body)


def is_permanent(exc: OSError) -> bool:
    """Whether a transport failure cannot recover by retrying: a name that does not
    resolve, or a host that refuses the connection (no network, a typo, a firewall).
    Timeouts, resets and broken responses may recover and are retried."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, socket.gaierror | ConnectionRefusedError)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, looked up without regard to case."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds; an HTTP-date gives None (the caller backs off)."""
    value = (header(headers, "Retry-After") or "").strip()
    return float(value) if value.isdigit() else None
