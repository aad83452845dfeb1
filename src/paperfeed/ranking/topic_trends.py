"""Reading the topic map: points to draw, papers and votes per week, rising topics.

Weeks are counted back from the newest paper in the catalogue (not from today),
so a catalogue imported from an old dump still shows its own recent history.
A paper's week is its listing day (else its publication day). "Votes" per week
are the votes cast here in that week plus the upvote count imported from the
source, credited to the paper's own week (the source does not say when).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from paperfeed.catalogue.moderation import VISIBLE

DAY = "coalesce(p.listed_on, p.published_on)"


@dataclass(frozen=True)
class Point:
    """A paper on the map."""

    paper_id: int
    topic_id: int
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Week:
    """One week of a topic: papers listed in it and votes received in it."""

    start: date
    papers: int
    votes: int


@dataclass(frozen=True)
class Rising:
    """A topic growing faster than the catalogue: recent papers against its usual pace."""

    topic_id: int
    label: str
    recent: int
    expected: float
    growth: float


def points(
    conn: psycopg.Connection, limit: int = 3_000, topic_id: int | None = None
) -> list[Point]:
    """Up to `limit` papers of the map (an even sample by id), optionally one topic's."""
    total = conn.execute(
        "SELECT count(*) AS n FROM paper_topics WHERE (%s::bigint IS NULL OR topic_id = %s)",
        (topic_id, topic_id),
    ).fetchone()["n"]
    step = max(1, -(-total // max(limit, 1)))
    rows = conn.execute(
        "SELECT pt.paper_id, pt.topic_id, pt.x, pt.y, p.title FROM paper_topics pt"  # noqa: S608
        " JOIN papers p ON p.id = pt.paper_id"
        " WHERE (%s::bigint IS NULL OR pt.topic_id = %s) AND pt.paper_id %% %s = 0"
        f" AND {VISIBLE}"  # a hidden paper's title is no dot on the map
        " ORDER BY pt.paper_id LIMIT %s",
        (topic_id, topic_id, step, limit),
    ).fetchall()
    return [Point(r["paper_id"], r["topic_id"], r["x"], r["y"], r["title"]) for r in rows]


def newest_day(conn: psycopg.Connection) -> date | None:
    """The newest listing/publication day in the catalogue."""
    row = conn.execute("SELECT max(coalesce(listed_on, published_on)) AS d FROM papers").fetchone()
    return row["d"]


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly(conn: psycopg.Connection, topic_id: int, weeks: int = 26) -> list[Week]:
    """Papers and votes per week for one topic, the last `weeks` weeks, oldest first."""
    newest = newest_day(conn)
    if newest is None:
        return []
    end = _monday(newest)
    start = end - timedelta(weeks=weeks - 1)
    # DAY is a constant SQL fragment; every value is a parameter.
    papers = conn.execute(
        "SELECT date_trunc('week', " + DAY + ")::date AS week, count(*) AS n,"  # noqa: S608
        " sum(p.imported_upvotes) AS up FROM paper_topics pt JOIN papers p ON p.id = pt.paper_id"
        " WHERE pt.topic_id = %s AND " + DAY + " >= %s GROUP BY 1",
        (topic_id, start),
    ).fetchall()
    votes = conn.execute(
        "SELECT date_trunc('week', v.created_at)::date AS week, count(*) AS n"
        " FROM votes v JOIN paper_topics pt ON pt.paper_id = v.paper_id"
        " WHERE pt.topic_id = %s AND v.created_at >= %s GROUP BY 1",
        (topic_id, start),
    ).fetchall()
    by_week = {r["week"]: [r["n"], int(r["up"] or 0)] for r in papers}
    for r in votes:
        by_week.setdefault(r["week"], [0, 0])[1] += r["n"]
    return [
        Week(day, *by_week.get(day, [0, 0]))
        for day in (start + timedelta(weeks=i) for i in range(weeks))
    ]


def rising(
    conn: psycopg.Connection, limit: int = 5, recent_weeks: int = 4, baseline_weeks: int = 26
) -> list[Rising]:
    """Topics whose last weeks hold more papers than their share of the catalogue predicts."""
    newest = newest_day(conn)
    if newest is None:
        return []
    recent_from = newest - timedelta(weeks=recent_weeks)
    base_from = recent_from - timedelta(weeks=baseline_weeks)
    rows = conn.execute(
        "SELECT t.id, t.label,"  # noqa: S608 - DAY is a constant fragment
        " count(*) FILTER (WHERE " + DAY + " > %s) AS recent,"
        " count(*) FILTER (WHERE " + DAY + " > %s AND " + DAY + " <= %s) AS before"
        " FROM topics t JOIN topic_maps m ON m.id = t.map_id"
        " JOIN paper_topics pt ON pt.topic_id = t.id JOIN papers p ON p.id = pt.paper_id"
        " GROUP BY t.id, t.label",
        (recent_from, base_from, recent_from),
    ).fetchall()
    recent_total = sum(r["recent"] for r in rows)
    before_total = sum(r["before"] for r in rows)
    if not recent_total:
        return []
    out = []
    for r in rows:
        # The topic's expected recent count if it kept its earlier share (add-one smoothed).
        share = (r["before"] + 1) / (before_total + len(rows))
        expected = share * recent_total
        growth = (r["recent"] + 1) / (expected + 1)
        if r["recent"] >= 2 and growth > 1.2:
            out.append(Rising(r["id"], r["label"], r["recent"], expected, growth))
    out.sort(key=lambda t: (-t.growth, t.topic_id))
    return out[:limit]
