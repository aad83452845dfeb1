"""What an administrator sees and changes: who is an admin, and the latest users,
imports and submissions for the admin pages.

Reads are bounded (`limit`) so that the admin pages stay fast on a large instance.
"""

from __future__ import annotations

import psycopg

from paperfeed.catalogue.accounts import AccountError, normalise_email


def set_admin(conn: psycopg.Connection, email: str, admin: bool = True) -> int:
    """Make the account with this email an administrator (or not); its user id."""
    row = conn.execute(
        "UPDATE users SET is_admin = %s WHERE lower(email) = lower(%s) RETURNING id",
        (admin, normalise_email(email)),
    ).fetchone()
    if row is None:
        raise AccountError(f"No account with the email {email}.")
    return row["id"]


def users(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    """The newest accounts with what they did here (votes, saved papers, subscriptions)."""
    return conn.execute(
        "SELECT u.id, u.email, u.display_name, u.is_admin, u.created_at, u.last_login_at,"
        " (SELECT count(*) FROM votes v WHERE v.user_id = u.id) AS votes,"
        " (SELECT count(*) FROM library_items l WHERE l.user_id = u.id) AS saved,"
        " (SELECT count(*) FROM subscriptions s WHERE s.user_id = u.id) AS subscriptions"
        " FROM users u ORDER BY u.created_at DESC LIMIT %s",
        (limit,),
    ).fetchall()


def count_users(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) AS n FROM users").fetchone()["n"]


def import_runs(conn: psycopg.Connection, limit: int = 50) -> list[dict]:
    """The latest import runs, running ones first (their counts grow as they go)."""
    return conn.execute(
        "SELECT id, source, origin, started_at, finished_at, status, read, new, merged,"
        " rejected, message FROM ingest_runs"
        " ORDER BY (status = 'running') DESC, started_at DESC LIMIT %s",
        (limit,),
    ).fetchall()


def submissions(conn: psycopg.Connection, limit: int = 50) -> list[dict]:
    """The latest submissions by anyone, with the submitter's email and, for those whose
    paper is out of view, why (`hidden`: 'review' while it awaits an admin)."""
    return conn.execute(
        "SELECT s.id, s.arxiv_id, s.title, s.status, s.message, s.paper_id, s.created_at,"
        " u.email, hp.reason AS hidden FROM submissions s"
        " LEFT JOIN users u ON u.id = s.user_id"
        " LEFT JOIN hidden_papers hp ON hp.paper_id = s.paper_id"
        # Those awaiting review first: they are the admin's to do.
        " ORDER BY (hp.reason = 'review') IS TRUE DESC, s.created_at DESC LIMIT %s",
        (limit,),
    ).fetchall()


def held_submission_paper(conn: psycopg.Connection, submission_id: int) -> int | None:
    """The paper of a submission that is held for review (moderation.review_hold)."""
    row = conn.execute(
        "SELECT s.paper_id FROM submissions s"
        " JOIN hidden_papers hp ON hp.paper_id = s.paper_id AND hp.reason = 'review'"
        " WHERE s.id = %s",
        (submission_id,),
    ).fetchone()
    return row["paper_id"] if row else None
