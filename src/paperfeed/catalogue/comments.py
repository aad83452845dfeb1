"""Discussion: comments on papers, one level of replies, votes, reports, moderation.

Every function takes a connection inside the caller's transaction. The rules:
- a comment is Markdown source of 1..MAX_BODY characters; a reply's parent is a
  top-level comment of the same paper that is not deleted (one level only);
- an account posts (or edits) at most `Settings.comment_rate` times per
  RATE_WINDOW (the shared `rate_limits` table, so every worker counts);
- with `Settings.comment_review_first`, an account's comment is `pending` until
  an admin approves one of its comments; pending comments are seen only by
  their author and admins;
- authors edit (marked "edited") and delete their own comments; a deleted
  comment keeps its place (and replies) but loses its text;
- anyone signed in reports a comment once; admins hide/restore comments and
  resolve reports; hidden comments show as a placeholder to everyone else.
HTML is made by `comment_html.render` when a comment is written or edited and
stored with it (`html` of a Comment; rows of an older renderer are rendered on
read until `render_stale` stores theirs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from markupsafe import Markup

from paperfeed.catalogue import comment_html
from paperfeed.catalogue.accounts import User, hit_rate_limit

MAX_BODY = 10_000
MAX_REASON = 1_000
RATE_WINDOW = timedelta(minutes=10)
SORTS = ("top", "new")
# Top-level comments (each with all its replies) per page of a discussion. The page's
# cost grows with what it shows: 200 comments on one page took a p95 of 2.2 s under
# load (benchmarks/community.py), nearly all of it the template's forms per comment.
PER_PAGE = 25


class CommentError(ValueError):
    """A comment action that is not allowed; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Comment:
    """One comment as a reader sees it (body emptied when deleted or hidden from them)."""

    id: int
    paper_id: int
    user_id: int | None
    author: str
    parent_id: int | None
    body: str
    status: str
    created_at: datetime
    edited_at: datetime | None
    score: int
    # The sanitised HTML of `body` (empty when the body is).
    html: Markup = field(default_factory=Markup)
    voted: bool = False
    mine: bool = False
    replies: list[Comment] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "replies"}
        out["html"] = str(self.html)
        for key in ("created_at", "edited_at"):
            out[key] = out[key].isoformat() if out[key] else None
        out["replies"] = [r.as_dict() for r in self.replies]
        return out


_SELECT = (
    "SELECT c.id, c.paper_id, c.user_id, c.parent_id, c.body, c.status, c.created_at,"
    " c.edited_at, c.body_html, c.html_version,"
    " coalesce(nullif(u.display_name, ''), split_part(u.email, '@', 1), 'former member')"
    " AS author,"
    " (SELECT count(*) FROM comment_votes v WHERE v.comment_id = c.id)::int AS score"
    " FROM comments c LEFT JOIN users u ON u.id = c.user_id"
)


def _clean_body(body: str) -> str:
    text = (body or "").replace("\r\n", "\n").replace("\x00", "").strip()
    if not text:
        raise CommentError("A comment needs some text.")
    if len(text) > MAX_BODY:
        raise CommentError(f"A comment is at most {MAX_BODY} characters.")
    return text


def html_of(row: dict[str, Any]) -> Markup:
    """The sanitised HTML of a comment row: the stored one, or rendered now when the row
    predates the current renderer (the HTML comes from `comment_html.render` either way)."""
    if row.get("html_version") == comment_html.VERSION and row.get("body_html") is not None:
        return Markup(row["body_html"])  # noqa: S704 - stored by comment_html.render
    return comment_html.render(row["body"])


def _rate(conn: psycopg.Connection, user: User, limit: int) -> None:
    if not hit_rate_limit(conn, f"comment:{user.id}", limit, RATE_WINDOW):
        raise CommentError("You are commenting too fast; wait a few minutes.", 429)


def get(conn: psycopg.Connection, comment_id: int) -> dict[str, Any] | None:
    """The stored row of a comment, with its author's name and score."""
    return conn.execute(_SELECT + " WHERE c.id = %s", (comment_id,)).fetchone()


def _needs_review(conn: psycopg.Connection, user: User, review_first: bool) -> bool:
    if not review_first or user.is_admin:
        return False
    approved = conn.execute(
        "SELECT 1 FROM comments WHERE user_id = %s AND status IN ('visible', 'deleted') LIMIT 1",
        (user.id,),
    ).fetchone()
    return approved is None


def create(
    conn: psycopg.Connection,
    user: User,
    paper_id: int,
    body: str,
    *,
    parent_id: int | None = None,
    rate: int = 10,
    review_first: bool = False,
) -> dict[str, Any]:
    """Post a comment (or a reply to a top-level comment); return its row."""
    text = _clean_body(body)
    if conn.execute("SELECT 1 FROM papers WHERE id = %s", (paper_id,)).fetchone() is None:
        raise CommentError("There is no paper with this id.", 404)
    if parent_id is not None:
        parent = conn.execute(
            "SELECT paper_id, parent_id, status FROM comments WHERE id = %s", (parent_id,)
        ).fetchone()
        if parent is None or parent["paper_id"] != paper_id:
            raise CommentError("The comment you reply to is not on this paper.", 404)
        if parent["parent_id"] is not None:
            raise CommentError("Replies go one level deep: reply to the top comment.")
        if parent["status"] in ("deleted", "hidden"):
            raise CommentError("That comment was removed; it takes no new replies.")
    _rate(conn, user, rate)
    status = "pending" if _needs_review(conn, user, review_first) else "visible"
    html = str(comment_html.render(text))
    row = conn.execute(
        "INSERT INTO comments (paper_id, user_id, parent_id, body, status, body_html,"
        " html_version) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (paper_id, user.id, parent_id, text, status, html, comment_html.VERSION),
    ).fetchone()
    return get(conn, row["id"])


def _own(conn: psycopg.Connection, user: User, comment_id: int) -> dict[str, Any]:
    row = get(conn, comment_id)
    if row is None or row["status"] == "deleted":
        raise CommentError("There is no such comment.", 404)
    if row["user_id"] != user.id:
        raise CommentError("You can only change your own comments.", 403)
    return row


def edit(
    conn: psycopg.Connection, user: User, comment_id: int, body: str, *, rate: int = 10
) -> dict[str, Any]:
    """Replace the text of one's own comment; it is marked edited."""
    text = _clean_body(body)
    row = _own(conn, user, comment_id)
    if row["status"] == "hidden":
        raise CommentError("A moderator hid this comment; it cannot be edited.", 403)
    _rate(conn, user, rate)
    if text != row["body"]:
        conn.execute(
            "UPDATE comments SET body = %s, body_html = %s, html_version = %s, edited_at = now()"
            " WHERE id = %s",
            (text, str(comment_html.render(text)), comment_html.VERSION, comment_id),
        )
    return get(conn, comment_id)


def delete(conn: psycopg.Connection, user: User, comment_id: int) -> None:
    """Delete one's own comment: its text goes, its place (and replies) stay."""
    _own(conn, user, comment_id)
    conn.execute(
        "UPDATE comments SET status = 'deleted', body = '', body_html = '', html_version = %s,"
        " edited_at = now() WHERE id = %s",
        (comment_html.VERSION, comment_id),
    )
    conn.execute("DELETE FROM comment_votes WHERE comment_id = %s", (comment_id,))


def _visible(conn: psycopg.Connection, comment_id: int) -> dict[str, Any]:
    row = get(conn, comment_id)
    if row is None or row["status"] != "visible":
        raise CommentError("There is no such comment.", 404)
    return row


def vote(conn: psycopg.Connection, user: User, comment_id: int, up: bool = True) -> int:
    """Upvote a visible comment (or take the vote back); return its score."""
    _visible(conn, comment_id)
    if up:
        conn.execute(
            "INSERT INTO comment_votes (user_id, comment_id) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (user.id, comment_id),
        )
    else:
        conn.execute(
            "DELETE FROM comment_votes WHERE user_id = %s AND comment_id = %s",
            (user.id, comment_id),
        )
    return get(conn, comment_id)["score"]


def report(conn: psycopg.Connection, user: User, comment_id: int, reason: str = "") -> None:
    """Report a comment to the moderators (once per account; later reports do nothing)."""
    row = get(conn, comment_id)
    if row is None or row["status"] in ("deleted",):
        raise CommentError("There is no such comment.", 404)
    conn.execute(
        "INSERT INTO comment_reports (comment_id, user_id, reason) VALUES (%s, %s, %s)"
        " ON CONFLICT (comment_id, user_id) DO NOTHING",
        (comment_id, user.id, " ".join((reason or "").split())[:MAX_REASON]),
    )


def _admin(user: User) -> None:
    if not user.is_admin:
        raise CommentError("Only admins moderate comments.", 403)


def moderate(conn: psycopg.Connection, admin: User, comment_id: int, action: str) -> dict:
    """hide / restore / approve a comment, or dismiss its reports; resolves open reports."""
    _admin(admin)
    row = get(conn, comment_id)
    if row is None:
        raise CommentError("There is no such comment.", 404)
    status = {"hide": "hidden", "restore": "visible", "approve": "visible"}.get(action)
    if action not in ("hide", "restore", "approve", "dismiss"):
        raise CommentError("Unknown moderation action.")
    if status and row["status"] != "deleted":
        conn.execute(
            "UPDATE comments SET status = %s, moderated_by = %s, moderated_at = now()"
            " WHERE id = %s",
            (status, admin.id, comment_id),
        )
    resolution = {"hide": "hidden", "restore": "restored", "dismiss": "dismissed"}.get(action)
    if resolution:
        conn.execute(
            "UPDATE comment_reports SET resolved_at = now(), resolution = %s"
            " WHERE comment_id = %s AND resolved_at IS NULL",
            (resolution, comment_id),
        )
    return get(conn, comment_id)


def report_queue(conn: psycopg.Connection, limit: int = 200) -> list[dict[str, Any]]:
    """Reported comments with open reports, and pending comments, oldest first."""
    return conn.execute(
        "SELECT c.id, c.paper_id, c.body, c.body_html, c.html_version, c.status, c.created_at,"
        " p.title,"
        " coalesce(nullif(u.display_name, ''), u.email) AS author,"
        " count(r.id) AS reports, array_remove(array_agg(r.reason), NULL) AS reasons,"
        " min(r.created_at) AS first_report"
        " FROM comments c JOIN papers p ON p.id = c.paper_id"
        " LEFT JOIN users u ON u.id = c.user_id"
        " LEFT JOIN comment_reports r ON r.comment_id = c.id AND r.resolved_at IS NULL"
        " WHERE c.status = 'pending' OR r.id IS NOT NULL"
        " GROUP BY c.id, p.title, u.display_name, u.email"
        " ORDER BY coalesce(min(r.created_at), c.created_at) LIMIT %s",
        (limit,),
    ).fetchall()


def thread(
    conn: psycopg.Connection, paper_id: int, viewer: User | None, sort: str = "top"
) -> list[Comment]:
    """A paper's discussion as `viewer` may see it: top-level comments sorted by
    `sort` (top: most upvoted first; new: newest first), replies oldest first."""
    if sort not in SORTS:
        raise CommentError("sort is top or new.")
    rows = conn.execute(
        _SELECT + " WHERE c.paper_id = %s ORDER BY c.created_at, c.id", (paper_id,)
    ).fetchall()
    viewer_id = viewer.id if viewer else None
    is_admin = bool(viewer and viewer.is_admin)
    voted: set[int] = set()
    if viewer_id and rows:
        voted = {
            r["comment_id"]
            for r in conn.execute(
                "SELECT comment_id FROM comment_votes WHERE user_id = %s"
                " AND comment_id = ANY(%s)",
                (viewer_id, [r["id"] for r in rows]),
            ).fetchall()
        }
    made: dict[int, Comment] = {}
    for r in rows:
        mine = viewer_id is not None and r["user_id"] == viewer_id
        if r["status"] == "pending" and not (mine or is_admin):
            continue
        shown = r["status"] != "hidden" or is_admin
        made[r["id"]] = Comment(
            id=r["id"], paper_id=r["paper_id"], user_id=r["user_id"], author=r["author"],
            parent_id=r["parent_id"], body=r["body"] if shown else "", status=r["status"],
            created_at=r["created_at"], edited_at=r["edited_at"], score=r["score"],
            html=html_of(r) if shown else Markup(), voted=r["id"] in voted, mine=mine,
        )  # fmt: skip
    top: list[Comment] = []
    for c in made.values():
        if c.parent_id is None:
            top.append(c)
        elif c.parent_id in made:
            made[c.parent_id].replies.append(c)
    # A removed comment stays only as the head of replies someone can still read.
    top = [c for c in top if c.status not in ("deleted", "hidden") or c.replies or is_admin]
    if sort == "top":
        top.sort(key=lambda c: (-c.score, c.created_at, c.id))
    else:
        top.sort(key=lambda c: (c.created_at, c.id), reverse=True)
    return top


@dataclass
class Page:
    """One page of a discussion: its top-level comments (with replies) and where it is."""

    comments: list[Comment]
    number: int
    pages: int


def paginate(top: list[Comment], page: int = 1, focus: int | None = None) -> Page:
    """Page `page` (1-based, clamped) of `thread`'s top-level comments, PER_PAGE a page;
    with `focus`, the page that holds that comment (or its parent) instead."""
    pages = max(1, -(-len(top) // PER_PAGE))
    if focus is not None:
        for index, c in enumerate(top):
            if c.id == focus or any(r.id == focus for r in c.replies):
                page = index // PER_PAGE + 1
                break
    number = min(max(1, page), pages)
    start = (number - 1) * PER_PAGE
    return Page(top[start : start + PER_PAGE], number, pages)


def count(conn: psycopg.Connection, paper_id: int) -> int:
    """Visible comments of a paper (what cards show)."""
    return conn.execute(
        "SELECT count(*) AS n FROM comments WHERE paper_id = %s AND status = 'visible'",
        (paper_id,),
    ).fetchone()["n"]


def recent_for_feed(conn: psycopg.Connection, paper_id: int, limit: int = 50) -> list[dict]:
    """The newest visible comments of a paper (the discussion's Atom feed)."""
    return conn.execute(
        _SELECT + " WHERE c.paper_id = %s AND c.status = 'visible'"
        " ORDER BY c.created_at DESC, c.id DESC LIMIT %s",
        (paper_id, limit),
    ).fetchall()


def render_stale(conn: psycopg.Connection, limit: int = 1_000) -> int:
    """Store the HTML of up to `limit` comments made before the current renderer
    (comment_html.VERSION); return how many. The upkeep job calls it every slot."""
    rows = conn.execute(
        "SELECT id, body FROM comments WHERE html_version IS NULL OR html_version < %s"
        " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
        (comment_html.VERSION, limit),
    ).fetchall()
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE comments SET body_html = %s, html_version = %s WHERE id = %s",
            [(str(comment_html.render(r["body"])), comment_html.VERSION, r["id"]) for r in rows],
        )
    return len(rows)
