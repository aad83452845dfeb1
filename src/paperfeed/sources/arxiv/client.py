"""The live arXiv client: polite rate limiting, retries with backoff, paging."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar
from urllib.parse import urlencode

from paperfeed.model import Item
from paperfeed.sources import SourceUnavailable
from paperfeed.sources.arxiv.atom import AtomPage, parse_atom
from paperfeed.sources.arxiv.oai import OaiPage, parse_oai
from paperfeed.sources.http import USER_AGENT, HttpGet, is_permanent, retry_after, urllib_get

log = logging.getLogger(__name__)

API_URL = "https://export.arxiv.org/api/query"
OAI_URL = "https://export.arxiv.org/oai2"


_Page = TypeVar("_Page", AtomPage, OaiPage)


@dataclass
class ArxivClient:
    """A polite arXiv client: one request per `min_interval` seconds, retries with backoff."""

    http_get: HttpGet = urllib_get
    min_interval: float = 3.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    timeout: float = 60.0
    max_retries: int = 5
    # Backoff when the server gives no Retry-After: 5 s, 10 s, 20 s … capped at max_delay.
    backoff: float = 5.0
    max_delay: float = 600.0
    user_agent: str = USER_AGENT
    # After `harvest` is exhausted: the responseDate of its first page (see harvest).
    response_date: datetime | None = field(default=None, init=False)
    _last_request: float | None = field(default=None, init=False, repr=False)

    def harvest(
        self, set_spec: str | None, since: date | None, *, metadata_prefix: str = "arXiv"
    ) -> Iterator[Item]:
        """Yield every record of `set_spec` (e.g. "cs") changed since `since`, page by page.

        For incremental runs, store `client.response_date.date()` once the iterator is
        exhausted without an exception, and pass it as `since` next time: arXiv
        datestamps are days, so the overlap of one day is re-read and merges idempotently.
        Raises SourceUnavailable when the repository keeps failing or answers with an
        OAI-PMH error (the harvest is then incomplete and `since` must not advance).
        """
        self.response_date = None
        params = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
        if set_spec:
            params["set"] = set_spec
        if since:
            params["from"] = since.isoformat()
        url = f"{OAI_URL}?{urlencode(params)}"
        first_date: datetime | None = None
        while True:
            page = self._fetch_page(url, parse_oai)
            if page.error:
                raise SourceUnavailable(f"{url}: {page.error}")
            first_date = first_date or page.response_date
            yield from page.items
            if not page.resumption_token:
                break
            params = {"verb": "ListRecords", "resumptionToken": page.resumption_token}
            url = f"{OAI_URL}?{urlencode(params)}"
        self.response_date = first_date

    def search(self, query: str, max_results: int = 100, *, page_size: int = 100) -> Iterator[Item]:
        """Yield up to `max_results` hits of an arXiv API query, newest submissions first."""
        start = 0
        while start < max_results:
            params = {
                "search_query": query,
                "start": start,
                "max_results": min(page_size, max_results - start),
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            }
            page = self._fetch_page(f"{API_URL}?{urlencode(params)}", parse_atom)
            yield from page.items
            start += page.entries
            total = page.total_results
            if page.entries == 0 or (total is not None and start >= total):
                break

    def _fetch_page(self, url: str, parse: Callable[[bytes, str], _Page]) -> _Page:
        """GET and parse one page; a cut-off body is retried like a 503."""
        for attempt in range(self.max_retries + 1):
            page = parse(self._get(url), url)
            if page.complete:
                return page
            if attempt < self.max_retries:
                self.sleep(self._backoff_delay(attempt))
        raise SourceUnavailable(f"{url}: malformed response after {self.max_retries + 1} attempts")

    def _get(self, url: str) -> bytes:
        """GET `url`, waiting our turn, retrying 429/5xx and network errors with backoff."""
        headers = {"User-Agent": self.user_agent}
        for attempt in range(self.max_retries + 1):
            self._wait_turn()
            try:
                response = self.http_get(url, headers, self.timeout)
            except OSError as exc:
                if is_permanent(exc):
                    raise SourceUnavailable(f"{url}: network error: {exc}") from exc
                problem, delay = f"network error: {exc}", self._backoff_delay(attempt)
            else:
                if 200 <= response.status < 300:
                    return response.body
                if response.status not in (429, 500, 502, 503, 504):
                    raise SourceUnavailable(f"{url}: HTTP {response.status}")
                problem = f"HTTP {response.status}"
                wait = retry_after(response.headers)
                delay = self._backoff_delay(attempt) if wait is None else wait
            if attempt == self.max_retries:
                raise SourceUnavailable(f"{url}: {problem} after {attempt + 1} attempts")
            delay = min(delay, self.max_delay)
            log.warning(
                "arXiv: %s; retrying in %.0f s (attempt %d of %d)",
                problem,
                delay,
                attempt + 2,
                self.max_retries + 1,
            )
            self.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _wait_turn(self) -> None:
        """Sleep until `min_interval` has passed since the previous request started."""
        if self._last_request is not None:
            wait = self._last_request + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    def _backoff_delay(self, attempt: int) -> float:
        return min(self.backoff * 2**attempt, self.max_delay)
