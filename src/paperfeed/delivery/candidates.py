"""Which papers a digest may contain: the period's top papers for one subscription.

Subscribers with the same content share one query: the digest run asks each
distinct (kind, query, filters) once over the union of its subscribers'
windows (a for-you digest's content is its user's own feed, so its key
includes the user), taking several times the digest size so that each
subscriber still has enough after keeping their own window and removing the
papers already sent to them (see outbox.plan).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from paperfeed.catalogue import follows
from paperfeed.catalogue.moderation import VISIBLE
from paperfeed.db import Database
from paperfeed.ranking import lists

# Candidates fetched per group, as a multiple of the digest size. A subscriber
# has at most one earlier digest inside an overlapping window, so 4× is ample.
GROUP_DEPTH = 4
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Group:
    """What a digest's candidates depend on; equal groups get the same papers."""

    kind: str
    query: str
    filters_json: str  # canonical JSON, so that equal filters compare equal
    first_day: date
    last_day: date
    user_id: int | None = None  # for_you only: whose feed

    @property
    def filters(self) -> dict[str, Any]:
        return json.loads(self.filters_json)


def group_key(
    kind: str,
    query: str,
    filters: dict[str, Any],
    first_day: date,
    last_day: date,
    user_id: int | None = None,
) -> Group:
    """The group of a subscription's period."""
    owner = user_id if kind in ("for_you", "following") else None
    return Group(kind, query, json.dumps(filters, sort_keys=True), first_day, last_day, owner)


def top_in_window(
    conn: psycopg.Connection, first_day: date, last_day: date, limit: int
) -> list[dict[str, Any]]:
    """The most upvoted papers whose day lies in [first_day, last_day] (the trending digest)."""
    # papers_day_idx serves the day range; upvotes add this instance's votes
    # to the imported count exactly as lists.py shows them on pages.
    return conn.execute(
        f"SELECT {lists.CARD_COLUMNS} FROM papers p"  # noqa: S608 - constant SQL
        f" WHERE {lists.DAY} >= %s AND {lists.DAY} <= %s AND {VISIBLE}"
        " ORDER BY upvotes DESC, day DESC, p.id LIMIT %s",
        (first_day, last_day, limit),
    ).fetchall()


def _filters(filters: dict[str, Any], first_day: date, last_day: date):
    """search.Filters for a saved search's filters, narrowed to the digest's window."""
    from paperfeed.index.search import Filters

    start, end = first_day, last_day
    if filters.get("date_from"):
        start = max(start, date.fromisoformat(filters["date_from"]))
    if filters.get("date_to"):
        end = min(end, date.fromisoformat(filters["date_to"]))
    return Filters(
        date_from=start,
        date_to=end,
        organization=filters.get("organization") or None,
        has_code=filters.get("has_code"),
        min_upvotes=filters.get("min_upvotes"),
    )


def search_in_window(
    conn: psycopg.Connection,
    embedder: Any,
    query: str,
    filters: dict[str, Any],
    first_day: date,
    last_day: date,
    limit: int,
) -> list[dict[str, Any]]:
    """A saved search's results inside the window, most relevant first.

    Runs the search module's ranking (hybrid with an embedder, keyword
    without) with its relevance cut-off, so a digest holds only papers the
    same search shows on its pages; a filter-only search (no words) ranks by
    upvotes instead.
    """
    from paperfeed.index import search

    narrowed = _filters(filters, first_day, last_day)
    if narrowed.date_from > narrowed.date_to:
        return []
    if not query.strip():
        where, params = narrowed.sql()
        return conn.execute(
            f"SELECT {lists.CARD_COLUMNS} FROM papers p WHERE {VISIBLE} {where}"  # noqa: S608
            " ORDER BY upvotes DESC, day DESC, p.id LIMIT %(limit)s",
            {**params, "limit": limit},
        ).fetchall()
    mode = "hybrid" if embedder is not None else "keyword"
    ranked = search.rank(conn, embedder, query, narrowed, mode=mode)
    return lists.papers_by_ids(conn, [r.id for r in ranked[:limit]])


def for_you_in_window(
    db: Database, conn: psycopg.Connection, user_id: int, first_day: date, limit: int
) -> list[dict[str, Any]]:
    """The user's for-you picks listed since first_day, best first, each with its `reason`:
    only those above the recommender's digest threshold, not every new paper."""
    from paperfeed.ranking import recommend

    picks = recommend.for_you(
        db, user_id, limit, since=first_day, min_score=recommend.DIGEST_MIN_SCORE
    )
    reasons = {p.paper_id: p.reason for p in picks}
    papers = lists.papers_by_ids(conn, [p.paper_id for p in picks])
    return [{**paper, "reason": reasons[paper["id"]]} for paper in papers]


def following_in_window(
    conn: psycopg.Connection, user_id: int, first: date, last: date, limit: int
) -> list[dict[str, Any]]:
    """New papers by the authors and organisations the user follows, each with its reason
    ("by Jane Doe, whom you follow"), newest first."""
    picks = follows.followed_papers(conn, user_id, since=first, until=last, limit=limit)
    reasons = {p["paper_id"]: p["reason"] for p in picks}
    papers = lists.papers_by_ids(conn, [p["paper_id"] for p in picks])
    return [{**paper, "reason": reasons[paper["id"]]} for paper in papers]


# A finder returns a group's candidate papers, best first (dicts with at least
# the lists.CARD_COLUMNS fields).
Finder = Callable[[psycopg.Connection, Group, int], list[dict[str, Any]]]


class CandidateFinder:
    """Finds a group's candidates: SQL for trending, the search module for saved searches,
    the recommender for for-you digests (which needs `db`: it runs its own transaction)."""

    def __init__(
        self,
        embedder: Any = None,
        load: Callable[[], Any] | None = None,
        db: Database | None = None,
    ) -> None:
        # The embedding model is loaded on first need (a run with no saved search
        # never pays for it); without one, saved searches rank by keywords alone.
        self.embedder = embedder
        self._load = load
        self.db = db

    def _embedder(self) -> Any:
        if self.embedder is None and self._load is not None:
            load, self._load = self._load, None
            try:
                self.embedder = load()
            except Exception:  # a missing model must not stop the digests
                log.warning(
                    "embedding model unavailable; saved searches use keywords only", exc_info=True
                )
        return self.embedder

    def __call__(self, conn: psycopg.Connection, group: Group, limit: int) -> list[dict[str, Any]]:
        if group.kind == "trending":
            return top_in_window(conn, group.first_day, group.last_day, limit)
        if group.kind == "search":
            return search_in_window(
                conn,
                self._embedder() if group.query.strip() else None,
                group.query,
                group.filters,
                group.first_day,
                group.last_day,
                limit,
            )
        if group.kind == "following" and group.user_id is not None:
            return following_in_window(
                conn, group.user_id, group.first_day, group.last_day, limit
            )
        if group.kind == "for_you" and self.db is not None and group.user_id is not None:
            return for_you_in_window(self.db, conn, group.user_id, group.first_day, limit)
        raise ValueError(f"digest kind {group.kind!r} has no candidate finder")
