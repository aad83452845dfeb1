"""Follows: a signed-in user follows authors (canonical rows) and organisations.

Following is a signal for the for-you feed ("by Jane Doe, whom you follow",
ranking/recommend.py) and for the "new papers by people I follow" digest
(delivery, kind 'following'). Following twice is one follow; unfollowing
something not followed does nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg

from paperfeed.catalogue.moderation import VISIBLE

MAX_FOLLOWS = 1_000


class FollowError(ValueError):
    """A follow that cannot be made (unknown author, too many follows)."""


def _count(conn: psycopg.Connection, user_id: int) -> int:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM author_follows WHERE user_id = %(u)s)"
        " + (SELECT count(*) FROM org_follows WHERE user_id = %(u)s) AS n",
        {"u": user_id},
    ).fetchone()
    return int(row["n"])


def follow_author(conn: psycopg.Connection, user_id: int, author_id: int) -> int:
    """Follow an author (a merged variant's canonical author); return the id followed."""
    row = conn.execute(
        "SELECT coalesce(merged_into, id) AS id FROM authors WHERE id = %s", (author_id,)
    ).fetchone()
    if row is None:
        raise FollowError("There is no such author.")
    if _count(conn, user_id) >= MAX_FOLLOWS:
        raise FollowError(f"You follow {MAX_FOLLOWS} authors and organisations already.")
    conn.execute(
        "INSERT INTO author_follows (user_id, author_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (user_id, row["id"]),
    )
    return row["id"]


def unfollow_author(conn: psycopg.Connection, user_id: int, author_id: int) -> None:
    conn.execute(
        "DELETE FROM author_follows WHERE user_id = %s AND author_id = %s", (user_id, author_id)
    )


def follow_org(conn: psycopg.Connection, user_id: int, organization: str) -> None:
    """Follow an organisation that has papers here."""
    known = conn.execute(
        "SELECT 1 FROM papers WHERE organization = %s LIMIT 1", (organization,)
    ).fetchone()
    if known is None:
        raise FollowError("No papers from this organisation.")
    if _count(conn, user_id) >= MAX_FOLLOWS:
        raise FollowError(f"You follow {MAX_FOLLOWS} authors and organisations already.")
    conn.execute(
        "INSERT INTO org_follows (user_id, organization) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        (user_id, organization),
    )


def unfollow_org(conn: psycopg.Connection, user_id: int, organization: str) -> None:
    conn.execute(
        "DELETE FROM org_follows WHERE user_id = %s AND organization = %s", (user_id, organization)
    )


def follows_author(conn: psycopg.Connection, user_id: int, author_id: int) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM author_follows WHERE user_id = %s AND author_id = %s",
            (user_id, author_id),
        ).fetchone()
        is not None
    )


def follows_org(conn: psycopg.Connection, user_id: int, organization: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM org_follows WHERE user_id = %s AND organization = %s",
            (user_id, organization),
        ).fetchone()
        is not None
    )


def following(conn: psycopg.Connection, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """What a user follows: authors (with paper counts) and organisations."""
    people = conn.execute(
        "SELECT a.id, a.name, a.slug, f.created_at,"
        "  (SELECT count(*) FROM paper_authors pa WHERE pa.author_id = a.id) AS papers"
        " FROM author_follows f JOIN authors a ON a.id = f.author_id"
        " WHERE f.user_id = %s ORDER BY a.name",
        (user_id,),
    ).fetchall()
    orgs = conn.execute(
        "SELECT f.organization AS name, f.created_at,"
        "  (SELECT count(*) FROM papers p WHERE p.organization = f.organization) AS papers"
        " FROM org_follows f WHERE f.user_id = %s ORDER BY f.organization",
        (user_id,),
    ).fetchall()
    return {"authors": people, "organizations": orgs}


def followed_papers(
    conn: psycopg.Connection,
    user_id: int,
    *,
    since: Any = None,
    until: Any = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Papers by followed authors or organisations (newest first), each with `reason`.

    `since`/`until` bound the paper's day (coalesce(listed_on, published_on)).
    The reason names the first followed author in the author list, else the
    organisation: "by Jane Doe, whom you follow" / "from Org X, which you follow".
    """
    rows = conn.execute(
        "WITH hits AS ("  # noqa: S608 - constant fragments only
        "  SELECT pa.paper_id, min(pa.position) AS position, NULL::text AS org"
        "  FROM author_follows f JOIN paper_authors pa ON pa.author_id = f.author_id"
        "  WHERE f.user_id = %(u)s GROUP BY pa.paper_id"
        "  UNION ALL"
        "  SELECT p.id, NULL, p.organization FROM org_follows f"
        "  JOIN papers p ON p.organization = f.organization WHERE f.user_id = %(u)s)"
        " SELECT h.paper_id, min(h.position) AS position, max(h.org) AS org,"
        "  coalesce(p.listed_on, p.published_on) AS day"
        " FROM hits h JOIN papers p ON p.id = h.paper_id"
        " WHERE (%(since)s::date IS NULL OR coalesce(p.listed_on, p.published_on) >= %(since)s)"
        "   AND (%(until)s::date IS NULL OR coalesce(p.listed_on, p.published_on) <= %(until)s)"
        f"  AND {VISIBLE}"
        " GROUP BY h.paper_id, p.listed_on, p.published_on"
        " ORDER BY day DESC NULLS LAST, h.paper_id DESC LIMIT %(limit)s",
        {"u": user_id, "since": since, "until": until, "limit": limit},
    ).fetchall()
    if not rows:
        return []
    names = {
        (r["paper_id"], r["position"]): r["name"]
        for r in conn.execute(
            "SELECT pa.paper_id, pa.position, a.name FROM paper_authors pa"
            " JOIN authors a ON a.id = pa.author_id"
            " WHERE (pa.paper_id, pa.position) IN (SELECT * FROM unnest(%s::bigint[], %s::int[]))",
            ([r["paper_id"] for r in rows], [r["position"] or 0 for r in rows]),
        ).fetchall()
    }
    out = []
    for r in rows:
        name = names.get((r["paper_id"], r["position"]))
        reason = f"by {name}, whom you follow" if name else f"from {r['org']}, which you follow"
        out.append({"paper_id": r["paper_id"], "day": r["day"], "reason": reason})
    return out
