"""Hidden papers: taken out of every public view without being deleted.

An administrator hides a paper (reason 'hidden') from the admin papers table
and can restore it there; a paper submitted by a new account is held (reason
'review', see `review_hold`) until an administrator approves it. Either
way the paper keeps its row, sightings, votes and library entries: restoring
it brings everything back as it was. Deleting is `removal.delete_papers`.

A held paper is hidden by the import that creates it, in the same transaction
(`catalogue.ingest(..., hold=Hold(...))`): no committed state shows a new
account's paper unhidden, even for the moment between two commits, and a
process that dies mid-submission leaves either nothing or a held paper.

Every reader of the public catalogue leaves hidden papers out with `VISIBLE`
(a NOT EXISTS over `hidden_papers`, which is nearly always empty or tiny, so
the anti-join costs one probe of its primary key and list queries stay
index-only): the lists, trending, organisation/author/topic pages
(ranking/lists.py), search and similar papers (index/search.py, index/hits.py),
for-you (ranking/recommend.py), feeds and digests (which are built on those)
and the API. Administrators still open a hidden paper's page; the submitter
of a held paper sees it marked as awaiting review.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

# A paper `p` (the alias every reader uses) that no one took out of view.
VISIBLE = "NOT EXISTS (SELECT 1 FROM hidden_papers hp WHERE hp.paper_id = p.id)"
REASONS = ("hidden", "review")
MAX_NOTE = 500
# States the admin papers table filters on ('all', visible papers, each reason).
STATES = ("all", "visible", *REASONS)


@dataclass(frozen=True)
class Hold:
    """Hide the papers an import creates, in the transaction that inserts them
    (`catalogue.ingest(hold=...)`); papers it only merges into keep their state."""

    reason: str
    note: str = ""
    by_user_id: int | None = None

    def __post_init__(self) -> None:
        # Refused here, in the caller, rather than inside an import's writer.
        _check_reason(self.reason)


def _check_reason(reason: str) -> None:
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}; expected one of {', '.join(REASONS)}")


def hide(
    conn: psycopg.Connection,
    ids: Iterable[int],
    by_user_id: int | None,
    *,
    reason: str = "hidden",
    note: str = "",
) -> int:
    """Take papers out of view (existing ones; already hidden ones get the new reason)."""
    _check_reason(reason)
    return conn.execute(
        "INSERT INTO hidden_papers (paper_id, reason, note, hidden_by)"
        " SELECT id, %s, %s, %s FROM papers WHERE id = ANY(%s)"
        " ON CONFLICT (paper_id) DO UPDATE SET reason = excluded.reason,"
        "   note = excluded.note, hidden_by = excluded.hidden_by, hidden_at = now()",
        (reason, " ".join(note.split())[:MAX_NOTE], by_user_id, sorted(set(ids))),
    ).rowcount


def restore(conn: psycopg.Connection, ids: Iterable[int]) -> int:
    """Bring hidden (or held) papers back into view; how many were hidden."""
    return conn.execute(
        "DELETE FROM hidden_papers WHERE paper_id = ANY(%s)", (sorted(set(ids)),)
    ).rowcount


def hidden_among(conn: psycopg.Connection, ids: Iterable[int]) -> set[int]:
    """Which of these paper ids are hidden."""
    wanted = list(ids)
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT paper_id FROM hidden_papers WHERE paper_id = ANY(%s)", (wanted,)
    ).fetchall()
    return {r["paper_id"] for r in rows}


def state(conn: psycopg.Connection, paper_id: int) -> dict[str, Any] | None:
    """Why a paper is hidden (reason, note, hidden_at, by whom), or None when it is visible."""
    return conn.execute(
        "SELECT hp.reason, hp.note, hp.hidden_at, u.email AS hidden_by"
        " FROM hidden_papers hp LEFT JOIN users u ON u.id = hp.hidden_by"
        " WHERE hp.paper_id = %s",
        (paper_id,),
    ).fetchone()


def submitted_by(conn: psycopg.Connection, paper_id: int) -> set[int]:
    """The accounts that submitted this paper (they may see it while it awaits review)."""
    rows = conn.execute(
        "SELECT user_id FROM submissions WHERE paper_id = %s AND user_id IS NOT NULL",
        (paper_id,),
    ).fetchall()
    return {r["user_id"] for r in rows}


def needs_review(
    conn: psycopg.Connection, user_id: int, review_days: int, now: datetime | None = None
) -> bool:
    """Whether this account's submissions wait for an admin: younger than `review_days`
    days (0: nobody's) and not an administrator."""
    if review_days <= 0:
        return False
    row = conn.execute(
        "SELECT created_at, is_admin FROM users WHERE id = %s", (user_id,)
    ).fetchone()
    if row is None or row["is_admin"]:
        return False
    return row["created_at"] > (now or datetime.now(UTC)) - timedelta(days=review_days)


def review_hold(conn: psycopg.Connection, user_id: int, review_days: int) -> Hold | None:
    """The hold for the papers this account's submission creates: awaiting review when
    the account is new (see `needs_review`), else None (they are public at once)."""
    if not needs_review(conn, user_id, review_days):
        return None
    return Hold("review", f"submitted by account {user_id}")


def papers_table(
    conn: psycopg.Connection,
    *,
    query: str = "",
    state: str = "all",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], bool]:
    """Papers for the admin table, newest first, and whether more follow.

    `query` is a paper id, an arXiv id or words of the title; `state` one of STATES.
    Each row has what deleting it would take with it (votes, saves, comments).
    No total: counting every paper of a large catalogue per page view would cost
    a full scan, while newest-first by id stops after `limit` matches.
    """
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; expected one of {', '.join(STATES)}")
    where, params = ["true"], {"limit": limit + 1, "offset": offset}
    text = " ".join(query.split())
    if text:
        if text.isdigit() and len(text) < 19:
            where.append("(p.id = %(id)s OR p.arxiv_id = %(q)s)")
            params["id"] = int(text)
        else:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(p.arxiv_id = %(q)s OR p.title ILIKE %(like)s)")
            params["like"] = f"%{escaped}%"
        params["q"] = text
    if state == "visible":
        where.append("hp.paper_id IS NULL")
    elif state in REASONS:
        where.append("hp.reason = %(reason)s")
        params["reason"] = state
    rows = conn.execute(
        # Only constant fragments are joined; every value is a parameter.
        "SELECT p.id, p.title, p.arxiv_id, coalesce(p.listed_on, p.published_on) AS day,"  # noqa: S608
        " hp.reason, hp.note, hp.hidden_at, hu.email AS hidden_by,"
        " (SELECT count(*) FROM votes v WHERE v.paper_id = p.id) AS votes,"
        " (SELECT count(*) FROM library_items l WHERE l.paper_id = p.id) AS saved,"
        " (SELECT count(*) FROM comments c WHERE c.paper_id = p.id) AS comments"
        " FROM papers p LEFT JOIN hidden_papers hp ON hp.paper_id = p.id"
        " LEFT JOIN users hu ON hu.id = hp.hidden_by"
        " WHERE " + " AND ".join(where) + " ORDER BY p.id DESC LIMIT %(limit)s OFFSET %(offset)s",
        params,
    ).fetchall()
    return rows[:limit], len(rows) > limit
