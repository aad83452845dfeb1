"""Short-lived, per-process caches of rankings that change slowly.

The trending order moves with votes and the clock, but not within seconds:
each worker keeps the ranked ids for TRENDING_TTL seconds and re-reads the
cards (titles, current upvote counts) on every request, so a vote still shows
at once; only the order may lag by up to TRENDING_TTL. Rising topics (the home
page's box) change only when new papers are assigned to topics, and counting
them scans every paper's topic, so they are kept for RISING_TTL seconds.

Rendering a card's text (escaping a 1,500-character abstract twice, the
excerpt and the full text) is most of the CPU a list page costs, and that text
is the same for every visitor. The last CARD_TEXTS cards are kept rendered,
keyed on every field the card shows: a paper whose title, abstract or authors
change gets a new key, so the cache never serves stale text and needs no
invalidation. Vote buttons (counts, the visitor's own vote, CSRF token) are
rendered live around it.

Whole pages for visitors who are not signed in are the same for all of them
except the CSRF token, so they are kept (the last SHARED_PAGES, at most
PAGE_TTL seconds) under the database snapshot they were rendered at: see
`deps.shared_page`. Any commit changes the snapshot, so a vote or an import
shows at once; only the clock-driven parts (trending order) may lag, as above.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from markupsafe import Markup

from paperfeed.ranking import lists, topic_trends

TRENDING_TTL = 30.0
RISING_TTL = 300.0
CARD_TEXTS = 5_000
SHARED_PAGES = 200
PAGE_TTL = TRENDING_TTL
# Everything paper_card's text shows; equal values render to the same HTML.
CARD_FIELDS = (
    "id",
    "title",
    "abstract",
    "authors",
    "author_count",
    "organization",
    "published_on",
    "github_url",
    "arxiv_id",
    "links",
    "summary",
    "key_phrases",
    "comments",
)


class _Recent:
    """The last `size` values put, each for at most `ttl` seconds (None: until pushed out)."""

    def __init__(self, size: int, ttl: float | None = None) -> None:
        self.size, self.ttl = size, ttl
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None or hit[0] <= time.monotonic():
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: Any, value: Any) -> None:
        expires = math.inf if self.ttl is None else time.monotonic() + self.ttl
        with self._lock:
            self._items[key] = (expires, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


# Keys start with the database URL: tests (and one process serving two homes) never mix.
_trending = _Recent(100, TRENDING_TTL)
_rising = _Recent(100, RISING_TTL)
_card_texts = _Recent(CARD_TEXTS)
_pages = _Recent(SHARED_PAGES, PAGE_TTL)


def trending(conn: psycopg.Connection, db_key: str, limit: int = 50) -> list[dict[str, Any]]:
    """The trending cards, ranked at most TRENDING_TTL seconds ago."""
    key = (db_key, limit)
    ranked = _trending.get(key)
    if ranked is None:
        ranked = lists.trending_ids(conn, limit=limit)
        _trending.put(key, ranked)
    return lists.with_scores(conn, ranked)


def rising_topics(
    conn: psycopg.Connection, db_key: str, limit: int = 5
) -> list[topic_trends.Rising]:
    """Rising topics (topic_trends.rising), computed at most RISING_TTL seconds ago."""
    key = (db_key, limit)
    found = _rising.get(key)
    if found is None:
        found = topic_trends.rising(conn, limit=limit)
        _rising.put(key, found)
    return found


def card_text(paper: Mapping[str, Any], render: Callable[[Mapping[str, Any]], Markup]) -> Markup:
    """The rendered text of a paper's card, from the cache or from `render(paper)`."""
    key = tuple(_hashable(paper.get(name)) for name in CARD_FIELDS)
    html = _card_texts.get(key)
    if html is None:
        html = render(paper)
        _card_texts.put(key, html)
    return html


def shared_page(key: tuple[Any, ...]) -> bytes | None:
    """A page body kept by keep_shared_page under this key, unless older than PAGE_TTL."""
    return _pages.get(key)


def keep_shared_page(key: tuple[Any, ...], body: bytes) -> None:
    """Keep a rendered page body for PAGE_TTL seconds (the least recently used go first)."""
    _pages.put(key, body)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):  # authors, key phrases; links are a list of dicts
        return json.dumps(value, sort_keys=True, default=str)
    return value


def clear() -> None:
    """Forget every cached ranking, card and page (tests)."""
    for cache in (_trending, _rising, _card_texts, _pages):
        cache.clear()
