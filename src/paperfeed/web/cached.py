"""Short-lived, per-process caches of rankings that change slowly.

The trending order moves with votes and the clock, but not within seconds:
each worker keeps the ranked ids for TRENDING_TTL seconds and re-reads the
cards (titles, current upvote counts) on every request, so a vote still shows
at once; only the order may lag by up to TRENDING_TTL. Rising topics (the home
page's box) change only when new papers are assigned to topics, and counting
them scans every paper's topic, so they are kept for RISING_TTL seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from paperfeed import ranking, topic_trends

TRENDING_TTL = 30.0
RISING_TTL = 300.0
_lock = threading.Lock()
_trending: dict[tuple[str, int, int], tuple[float, list[tuple[int, float]]]] = {}
_rising: dict[tuple[str, int], tuple[float, list[topic_trends.Rising]]] = {}


def trending(conn: psycopg.Connection, db_key: str, limit: int = 50) -> list[dict[str, Any]]:
    """The trending cards, ranked at most TRENDING_TTL seconds ago."""
    key = (db_key, limit, 0)
    now = time.monotonic()
    with _lock:
        hit = _trending.get(key)
    if hit is None or hit[0] <= now:
        ranked = ranking.trending_ids(conn, limit=limit)
        with _lock:
            _trending[key] = (now + TRENDING_TTL, ranked)
    else:
        ranked = hit[1]
    return ranking.with_scores(conn, ranked)


def rising_topics(
    conn: psycopg.Connection, db_key: str, limit: int = 5
) -> list[topic_trends.Rising]:
    """Rising topics (topic_trends.rising), computed at most RISING_TTL seconds ago."""
    key = (db_key, limit)
    now = time.monotonic()
    with _lock:
        hit = _rising.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    found = topic_trends.rising(conn, limit=limit)
    with _lock:
        _rising[key] = (now + RISING_TTL, found)
    return found


def clear() -> None:
    """Forget every cached ranking (tests)."""
    with _lock:
        _trending.clear()
        _rising.clear()
