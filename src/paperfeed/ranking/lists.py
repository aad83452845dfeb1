"""Read-only lists of papers: daily/weekly/monthly, trending, organisations, one paper.

A paper's day is `coalesce(listed_on, published_on)` (the day it entered a
daily list, else its publication date); lists use the expression index on it.
The upvote count shown everywhere is `papers.imported_upvotes` (the largest
count a source showed) plus the votes cast here, computed at read time so the
two can never drift.

Trending score (documented on /about):

    score = upvotes / (age_hours + 2) ** 1.5

where age_hours counts from the start (00:00 UTC) of the paper's day to now.
The +2 keeps brand-new papers from dividing by ~0; the exponent 1.5 (Hacker
News' "gravity") halves a paper's score in about the time it took to earn it.
Only papers from the TRENDING_WINDOW days up to the newest listed day are
candidates: an older paper would need hundreds of times the votes of a new one
to outrank it, and the window keeps the query on the day index.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from paperfeed.catalogue.moderation import VISIBLE

PERIODS = ("daily", "weekly", "monthly")
TRENDING_WINDOW = 30
GRAVITY = 1.5
AGE_OFFSET_HOURS = 2

DAY = "coalesce(p.listed_on, p.published_on)"
UPVOTES = "(p.imported_upvotes + (SELECT count(*) FROM votes v WHERE v.paper_id = p.id))::int"
# What the community layer adds to a card: its links (catalogue/links.py), the
# one-line summary and key phrases, and the number of visible comments.
EXTRAS = (
    "(SELECT coalesce(json_agg(json_build_object('kind', l.kind, 'url', l.url,"
    "   'label', l.label, 'stars', l.stars) ORDER BY l.rank), '[]')"
    "   FROM paper_links l WHERE l.paper_id = p.id) AS links,"
    " (SELECT s.summary FROM paper_summaries s WHERE s.paper_id = p.id) AS summary,"
    " (SELECT s.key_phrases FROM paper_summaries s WHERE s.paper_id = p.id) AS key_phrases,"
    " (SELECT count(*) FROM comments c WHERE c.paper_id = p.id AND c.status = 'visible')::int"
    "   AS comments"
)
CARD_COLUMNS = (
    "p.id, p.arxiv_id, p.title, p.abstract, p.authors, p.author_count, p.organization,"
    f" p.published_on, p.listed_on, p.github_url, {DAY} AS day, {UPVOTES} AS upvotes, {EXTRAS}"
)


@dataclass(frozen=True)
class Period:
    """A daily, weekly (ISO, Monday first) or monthly span of days: [start, end)."""

    kind: str
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return self.start.strftime("%A, %B %-d, %Y")
        if self.kind == "weekly":
            last = self.end - timedelta(days=1)
            return f"Week {self.start.isocalendar()[1]}: {self.start:%b %-d} – {last:%b %-d, %Y}"
        return self.start.strftime("%B %Y")


def period_of(kind: str, day: date) -> Period:
    """The period of this kind that contains `day`."""
    if kind == "daily":
        return Period(kind, day, day + timedelta(days=1))
    if kind == "weekly":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=7))
    if kind == "monthly":
        start = day.replace(day=1)
        days = calendar.monthrange(day.year, day.month)[1]
        return Period(kind, start, start + timedelta(days=days))
    raise ValueError(f"unknown period {kind!r}; expected one of {', '.join(PERIODS)}")


def latest_day(conn: psycopg.Connection, *, on_or_before: date | None = None) -> date | None:
    """The newest day that has papers (not after `on_or_before`, default today)."""
    row = conn.execute(
        f"SELECT max({DAY}) AS d FROM papers p WHERE {DAY} <= %s AND {VISIBLE}",  # noqa: S608
        (on_or_before or date.today(),),
    ).fetchone()
    return row["d"]


def neighbours(conn: psycopg.Connection, period: Period) -> tuple[date | None, date | None]:
    """The nearest days with papers before and after a period (for prev/next links)."""
    row = conn.execute(
        f"SELECT (SELECT max({DAY}) FROM papers p WHERE {DAY} < %s AND {VISIBLE}) AS prev,"  # noqa: S608
        f"       (SELECT min({DAY}) FROM papers p WHERE {DAY} >= %s AND {VISIBLE}) AS next",
        (period.start, period.end),
    ).fetchone()
    return row["prev"], row["next"]


def papers_in_period(
    conn: psycopg.Connection, period: Period, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Papers of a period, most upvoted first, and how many there are in all."""
    rows = conn.execute(
        f"SELECT {CARD_COLUMNS}, count(*) OVER () AS total FROM papers p"  # noqa: S608
        f" WHERE {DAY} >= %s AND {DAY} < %s AND {VISIBLE}"
        " ORDER BY upvotes DESC, p.id LIMIT %s OFFSET %s",
        (period.start, period.end, limit, offset),
    ).fetchall()
    total = rows[0]["total"] if rows else _count_period(conn, period) if offset else 0
    return [_strip_total(r) for r in rows], total


def _count_period(conn: psycopg.Connection, period: Period) -> int:
    row = conn.execute(
        f"SELECT count(*) AS n FROM papers p WHERE {DAY} >= %s AND {DAY} < %s AND {VISIBLE}",  # noqa: S608
        (period.start, period.end),
    ).fetchone()
    return row["n"]


def _strip_total(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("total", None)
    return row


def trending_score(upvotes: int, day: date, now: datetime) -> float:
    """The trending formula, in Python, for tests and documentation."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    age_hours = max((now - start).total_seconds() / 3600, 0.0)
    return upvotes / (age_hours + AGE_OFFSET_HOURS) ** GRAVITY


def trending_ids(
    conn: psycopg.Connection, *, limit: int = 50, offset: int = 0, now: datetime | None = None
) -> list[tuple[int, float]]:
    """(paper id, trending score) best first: the formula in the module docstring."""
    now = now or datetime.now(UTC)
    newest = latest_day(conn, on_or_before=now.date())
    if newest is None:
        return []
    since = newest - timedelta(days=TRENDING_WINDOW)
    # Narrow rows only: an index-only scan of papers_day_rank_idx. date_part gives
    # float8; numeric power() over a month of papers would cost more than the scan.
    rows = conn.execute(
        "SELECT id, upvotes / power(greatest(date_part('epoch', %s::timestamptz"  # noqa: S608
        "    - (day::timestamp AT TIME ZONE 'UTC')) / 3600, 0) + %s, %s) AS score"
        f" FROM (SELECT p.id, {DAY} AS day, {UPVOTES} AS upvotes FROM papers p"
        f"       WHERE {DAY} >= %s AND {DAY} <= %s AND {VISIBLE}) c"
        " ORDER BY score DESC, day DESC, id LIMIT %s OFFSET %s",
        (now, AGE_OFFSET_HOURS, GRAVITY, since, now.date(), limit, offset),
    ).fetchall()
    return [(r["id"], r["score"]) for r in rows]


def trending(
    conn: psycopg.Connection, *, limit: int = 50, offset: int = 0, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Papers ranked by the trending score (see the module docstring), each with `score`."""
    ranked = trending_ids(conn, limit=limit, offset=offset, now=now)
    return with_scores(conn, ranked)


def with_scores(conn: psycopg.Connection, ranked: list[tuple[int, float]]) -> list[dict[str, Any]]:
    """Cards (with current upvotes) for ranked (id, score) pairs, in that order."""
    cards = papers_by_ids(conn, [pid for pid, _ in ranked])
    scores = dict(ranked)
    for card in cards:
        card["score"] = scores[card["id"]]
    return cards


def get_paper(conn: psycopg.Connection, paper_id: int) -> dict[str, Any] | None:
    """One paper with every field, its upvotes and the sources it was seen in.

    Hidden papers too (`hidden` is their reason, else None): the page decides who sees them.
    """
    row = conn.execute(
        f"SELECT {CARD_COLUMNS}, p.doi, p.categories, p.created_at,"  # noqa: S608
        "  (SELECT coalesce(json_agg(json_build_object('source', s.source,"
        "     'first_seen', s.first_seen, 'last_seen', s.last_seen, 'upvotes', s.upvotes)"
        "     ORDER BY s.first_seen), '[]') FROM paper_sources s WHERE s.paper_id = p.id)"
        "   AS sources,"
        # Why the paper is out of public view (catalogue/moderation.py), or NULL.
        "  (SELECT hp.reason FROM hidden_papers hp WHERE hp.paper_id = p.id) AS hidden"
        " FROM papers p WHERE p.id = %s",
        (paper_id,),
    ).fetchone()
    return row


def paper_exists(conn: psycopg.Connection, paper_id: int) -> bool:
    """Whether a paper id is in the catalogue and in public view."""
    row = conn.execute(
        f"SELECT 1 FROM papers p WHERE p.id = %s AND {VISIBLE}",  # noqa: S608 - constant SQL
        (paper_id,),
    ).fetchone()
    return row is not None


def upvote_count(conn: psycopg.Connection, paper_id: int) -> int:
    """The upvote count shown for one paper."""
    row = conn.execute(
        f"SELECT {UPVOTES} AS n FROM papers p WHERE p.id = %s",  # noqa: S608
        (paper_id,),
    ).fetchone()
    return row["n"] if row else 0


def papers_by_ids(conn: psycopg.Connection, ids: list[int]) -> list[dict[str, Any]]:
    """Cards for these paper ids, in the given order (unknown ids skipped)."""
    if not ids:
        return []
    rows = conn.execute(
        f"SELECT {CARD_COLUMNS} FROM papers p WHERE p.id = ANY(%s) AND {VISIBLE}",  # noqa: S608
        (ids,),
    ).fetchall()
    by_id = {r["id"]: r for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def organization_papers(
    conn: psycopg.Connection, name: str, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """An organisation's papers, newest first, and how many it has."""
    total = conn.execute(
        f"SELECT count(*) AS n FROM papers p WHERE p.organization = %s AND {VISIBLE}",  # noqa: S608
        (name,),
    ).fetchone()["n"]
    rows = conn.execute(
        f"SELECT {CARD_COLUMNS} FROM papers p WHERE p.organization = %s AND {VISIBLE}"  # noqa: S608
        " ORDER BY day DESC NULLS LAST, upvotes DESC, p.id LIMIT %s OFFSET %s",
        (name, limit, offset),
    ).fetchall()
    return rows, total


def card_extras(conn: psycopg.Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The EXTRAS fields of these papers (for cards built elsewhere, e.g. search hits)."""
    if not ids:
        return {}
    rows = conn.execute(
        f"SELECT p.id, {EXTRAS} FROM papers p WHERE p.id = ANY(%s)",  # noqa: S608 - constant SQL
        (ids,),
    ).fetchall()
    return {r.pop("id"): r for r in rows}


def author_papers(
    conn: psycopg.Connection, author_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """An author's papers, newest first, and how many there are."""
    total = conn.execute(
        "SELECT count(*) AS n FROM paper_authors WHERE author_id = %s"
        " AND paper_id NOT IN (SELECT paper_id FROM hidden_papers)",
        (author_id,),
    ).fetchone()["n"]
    rows = conn.execute(
        f"SELECT {CARD_COLUMNS} FROM papers p"  # noqa: S608 - constant SQL
        " WHERE p.id IN (SELECT paper_id FROM paper_authors WHERE author_id = %s)"
        f" AND {VISIBLE}"
        " ORDER BY day DESC NULLS LAST, upvotes DESC, p.id LIMIT %s OFFSET %s",
        (author_id, limit, offset),
    ).fetchall()
    return rows, total


def topic_papers(
    conn: psycopg.Connection, topic_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """A topic-map topic's papers, newest first, and how many it has."""
    total = conn.execute(
        "SELECT count(*) AS n FROM paper_topics WHERE topic_id = %s"
        " AND paper_id NOT IN (SELECT paper_id FROM hidden_papers)",
        (topic_id,),
    ).fetchone()["n"]
    rows = conn.execute(
        f"SELECT {CARD_COLUMNS} FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id"  # noqa: S608
        f" WHERE pt.topic_id = %s AND {VISIBLE}"
        " ORDER BY day DESC NULLS LAST, upvotes DESC, p.id LIMIT %s OFFSET %s",
        (topic_id, limit, offset),
    ).fetchall()
    return rows, total


def organizations(conn: psycopg.Connection, *, limit: int = 200) -> list[dict[str, Any]]:
    """Organisations with the most papers first."""
    return conn.execute(
        "SELECT p.organization AS name, count(*) AS papers FROM papers p"  # noqa: S608
        f" WHERE p.organization IS NOT NULL AND {VISIBLE} GROUP BY p.organization"
        " ORDER BY papers DESC, organization LIMIT %s",
        (limit,),
    ).fetchall()
