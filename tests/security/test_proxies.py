"""Item 8: X-Forwarded-For is believed only from configured proxies (a real uvicorn server
with `paperfeed serve`'s options)."""

from __future__ import annotations

import dataclasses
import re

import httpx

from paperfeed.app import Paperfeed
from paperfeed.cli.serve import proxy_options
from paperfeed.web import create_app
from tests.web.server import running

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def _served(pf: Paperfeed):
    """The app on a real uvicorn server with the forwarded-header options `serve` uses."""
    return running(create_app(pf), **proxy_options(pf.settings))


def _forgot_codes(base: str, n: int) -> list[int]:
    with httpx.Client(base_url=base) as http:
        token = _META.search(http.get("/forgot").text).group(1)
        return [
            http.post(
                "/forgot",
                data={"email": "x@example.org", "csrf_token": token},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            ).status_code
            for i in range(n)
        ]


def test_forwarded_for_from_an_untrusted_client_is_ignored(settings) -> None:
    with Paperfeed(settings) as pf, _served(pf) as base:
        codes = _forgot_codes(base, 6)
    assert codes[:5] == [200] * 5 and codes[5] == 429  # one bucket: the real client


def test_a_configured_proxy_is_believed(settings) -> None:
    trusting = dataclasses.replace(settings, trusted_proxies="127.0.0.1")
    with Paperfeed(trusting) as pf, _served(pf) as base:
        codes = _forgot_codes(base, 6)
    assert codes == [200] * 6  # six clients behind the proxy, one try each
