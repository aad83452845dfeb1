"""Each user's library: saved papers, folders, tags, notes, and "not interested".

The only writer of library_items, library_folders, library_folder_items,
feedback and library_imports. Every function takes the request's connection
(one request = one transaction). The for-you profile is not updated here: the
recommender (`ranking.recommend.refresh_profile`) compares the profile with the
user's saves and votes whenever it reads it, so the next feed already reflects
a change, and the catalogue never imports the ranking layer. Export and import
live in `library_io`.
"""

from __future__ import annotations

from typing import Any

import psycopg

MAX_TAGS = 20
MAX_TAG_LENGTH = 50
MAX_NOTE = 20_000
MAX_FOLDERS = 200

# The paper fields every list of library items carries (what cards and exports need).
PAPER_FIELDS = (
    "p.id, p.arxiv_id, p.doi, p.title, p.abstract, p.authors, p.author_count,"
    " p.organization, p.published_on, p.listed_on, p.github_url, p.categories,"
    " p.imported_upvotes + (SELECT count(*) FROM votes v WHERE v.paper_id = p.id) AS upvotes"
)


class LibraryError(ValueError):
    """A library change that cannot be made (unknown paper, bad tag, duplicate folder …)."""


class UnknownPaper(LibraryError):
    """The paper does not exist (the API answers 404, not 400)."""


def _paper_exists(conn: psycopg.Connection, paper_id: int) -> bool:
    return conn.execute("SELECT 1 FROM papers WHERE id = %s", (paper_id,)).fetchone() is not None


def save(conn: psycopg.Connection, user_id: int, paper_id: int, *, origin: str = "web") -> bool:
    """Save (star) a paper; True when it was not saved before. Clears "not interested"."""
    if not _paper_exists(conn, paper_id):
        raise UnknownPaper(f"no paper {paper_id}")
    row = conn.execute(
        "INSERT INTO library_items (user_id, paper_id, origin) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING paper_id",
        (user_id, paper_id, origin),
    ).fetchone()
    conn.execute(
        "DELETE FROM feedback WHERE user_id = %s AND paper_id = %s RETURNING paper_id",
        (user_id, paper_id),
    )
    return row is not None


def unsave(conn: psycopg.Connection, user_id: int, paper_id: int) -> bool:
    """Remove a paper from the library (and from its folders); True when it was saved."""
    row = conn.execute(
        "DELETE FROM library_items WHERE user_id = %s AND paper_id = %s RETURNING paper_id",
        (user_id, paper_id),
    ).fetchone()
    return row is not None


def not_interested(conn: psycopg.Connection, user_id: int, paper_id: int) -> bool:
    """Mark a paper "not interested" (negative feedback); True when newly marked."""
    if not _paper_exists(conn, paper_id):
        raise UnknownPaper(f"no paper {paper_id}")
    row = conn.execute(
        "INSERT INTO feedback (user_id, paper_id) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING RETURNING paper_id",
        (user_id, paper_id),
    ).fetchone()
    # Negatives are read at scoring time (they only penalise), so the profile's
    # interests need no update; a saved paper stays saved until unsaved.
    return row is not None


def undo_not_interested(conn: psycopg.Connection, user_id: int, paper_id: int) -> bool:
    """Withdraw a "not interested"; True when there was one."""
    row = conn.execute(
        "DELETE FROM feedback WHERE user_id = %s AND paper_id = %s RETURNING paper_id",
        (user_id, paper_id),
    ).fetchone()
    return row is not None


def clean_tags(tags: list[str]) -> list[str]:
    """Tags trimmed, lower-cased, deduplicated, each within the length limit."""
    out: list[str] = []
    for tag in tags:
        text = " ".join(tag.split()).lower()
        if not text:
            continue
        if len(text) > MAX_TAG_LENGTH:
            raise LibraryError(f"tag longer than {MAX_TAG_LENGTH} characters")
        if text not in out:
            out.append(text)
    if len(out) > MAX_TAGS:
        raise LibraryError(f"more than {MAX_TAGS} tags")
    return out


def _update_item(conn: psycopg.Connection, sql: str, params: tuple[Any, ...]) -> None:
    row = conn.execute(sql + " RETURNING paper_id", params).fetchone()
    if row is None:
        raise LibraryError("save the paper to your library first")


def set_tags(conn: psycopg.Connection, user_id: int, paper_id: int, tags: list[str]) -> list[str]:
    """Replace a saved paper's tags; return them cleaned."""
    cleaned = clean_tags(tags)
    _update_item(
        conn,
        "UPDATE library_items SET tags = %s WHERE user_id = %s AND paper_id = %s",
        (cleaned, user_id, paper_id),
    )
    return cleaned


def set_note(conn: psycopg.Connection, user_id: int, paper_id: int, note: str) -> None:
    """Replace a saved paper's note."""
    if len(note) > MAX_NOTE:
        raise LibraryError(f"note longer than {MAX_NOTE} characters")
    _update_item(
        conn,
        "UPDATE library_items SET note = %s WHERE user_id = %s AND paper_id = %s",
        (note.strip(), user_id, paper_id),
    )


def create_folder(conn: psycopg.Connection, user_id: int, name: str) -> int:
    """Create a folder; return its id."""
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise LibraryError("a folder name has 1 to 200 characters")
    count = conn.execute(
        "SELECT count(*) AS n FROM library_folders WHERE user_id = %s", (user_id,)
    ).fetchone()["n"]
    if count >= MAX_FOLDERS:
        raise LibraryError(f"at most {MAX_FOLDERS} folders")
    row = conn.execute(
        "INSERT INTO library_folders (user_id, name) VALUES (%s, %s)"
        " ON CONFLICT (user_id, name) DO NOTHING RETURNING id",
        (user_id, name),
    ).fetchone()
    if row is None:
        raise LibraryError(f"you already have a folder named {name!r}")
    return row["id"]


def delete_folder(conn: psycopg.Connection, user_id: int, folder_id: int) -> bool:
    """Delete a folder (its papers stay in the library)."""
    row = conn.execute(
        "DELETE FROM library_folders WHERE id = %s AND user_id = %s RETURNING id",
        (folder_id, user_id),
    ).fetchone()
    return row is not None


def owns_folder(conn: psycopg.Connection, user_id: int, folder_id: int) -> bool:
    """Whether the folder exists and is this user's (another user's folder is "no such folder")."""
    row = conn.execute(
        "SELECT 1 FROM library_folders WHERE id = %s AND user_id = %s", (folder_id, user_id)
    ).fetchone()
    return row is not None


def _own_folder(conn: psycopg.Connection, user_id: int, folder_id: int) -> None:
    if not owns_folder(conn, user_id, folder_id):
        raise LibraryError("no such folder")


def add_to_folder(conn: psycopg.Connection, user_id: int, folder_id: int, paper_id: int) -> None:
    """Put a paper in one of the user's folders, saving it first if needed."""
    _own_folder(conn, user_id, folder_id)
    save(conn, user_id, paper_id)
    conn.execute(
        "INSERT INTO library_folder_items (folder_id, user_id, paper_id) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (folder_id, user_id, paper_id),
    )


def remove_from_folder(
    conn: psycopg.Connection, user_id: int, folder_id: int, paper_id: int
) -> None:
    """Take a paper out of a folder (it stays saved)."""
    _own_folder(conn, user_id, folder_id)
    conn.execute(
        "DELETE FROM library_folder_items WHERE folder_id = %s AND paper_id = %s",
        (folder_id, paper_id),
    )


def folders(conn: psycopg.Connection, user_id: int) -> list[dict[str, Any]]:
    """The user's folders with their paper counts, by name."""
    return conn.execute(
        "SELECT f.id, f.name, count(i.paper_id) AS papers FROM library_folders f"
        " LEFT JOIN library_folder_items i ON i.folder_id = f.id"
        " WHERE f.user_id = %s GROUP BY f.id ORDER BY lower(f.name)",
        (user_id,),
    ).fetchall()


def tags(conn: psycopg.Connection, user_id: int) -> list[dict[str, Any]]:
    """Every tag the user has used, with how many papers carry it."""
    return conn.execute(
        "SELECT tag, count(*) AS papers FROM library_items, unnest(tags) AS tag"
        " WHERE user_id = %s GROUP BY tag ORDER BY tag",
        (user_id,),
    ).fetchall()


def items(
    conn: psycopg.Connection,
    user_id: int,
    *,
    folder_id: int | None = None,
    tag: str | None = None,
    limit: int | None = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Saved papers, newest first, optionally one folder's or one tag's."""
    # Only constant SQL fragments are concatenated; every value is a parameter.
    sql = (
        "SELECT "  # noqa: S608
        + PAPER_FIELDS
        + ", li.note, li.tags, li.saved_at,"
        " coalesce((SELECT array_agg(f.name ORDER BY f.name) FROM library_folder_items fi"
        "   JOIN library_folders f ON f.id = fi.folder_id"
        "   WHERE fi.user_id = li.user_id AND fi.paper_id = li.paper_id), '{}') AS folders"
        " FROM library_items li JOIN papers p ON p.id = li.paper_id WHERE li.user_id = %s"
    )
    params: list[Any] = [user_id]
    if folder_id is not None:
        # fi.user_id: another user's folder id must match nothing, or a listing of
        # it would tell which of my saved papers that folder holds.
        sql += " AND EXISTS (SELECT 1 FROM library_folder_items fi WHERE fi.folder_id = %s"
        sql += " AND fi.user_id = li.user_id AND fi.paper_id = li.paper_id)"
        params.append(folder_id)
    if tag:
        sql += " AND %s = ANY(li.tags)"
        params.append(tag)
    sql += " ORDER BY li.saved_at DESC, p.id DESC LIMIT %s OFFSET %s"
    params += [limit, offset]
    return conn.execute(sql, params).fetchall()


def count_items(conn: psycopg.Connection, user_id: int) -> int:
    """How many papers the user has saved."""
    return conn.execute(
        "SELECT count(*) AS n FROM library_items WHERE user_id = %s", (user_id,)
    ).fetchone()["n"]


def states(conn: psycopg.Connection, user_id: int, paper_ids: list[int]) -> dict[int, str]:
    """For cards: 'saved' or 'not_interested' per paper id the user acted on."""
    if not paper_ids:
        return {}
    rows = conn.execute(
        "SELECT paper_id, 'saved' AS state FROM library_items"
        " WHERE user_id = %s AND paper_id = ANY(%s)"
        " UNION ALL SELECT paper_id, 'not_interested' FROM feedback"
        " WHERE user_id = %s AND paper_id = ANY(%s)",
        (user_id, paper_ids, user_id, paper_ids),
    ).fetchall()
    return {r["paper_id"]: r["state"] for r in rows}


def papers_by_ids(conn: psycopg.Connection, paper_ids: list[int]) -> list[dict[str, Any]]:
    """Papers in the order given (unknown ids skipped), with the fields cards need."""
    if not paper_ids:
        return []
    rows = conn.execute(
        "SELECT " + PAPER_FIELDS + " FROM papers p WHERE p.id = ANY(%s)",  # noqa: S608
        (paper_ids,),
    ).fetchall()
    by_id = {r["id"]: r for r in rows}
    return [by_id[i] for i in paper_ids if i in by_id]


def last_import(conn: psycopg.Connection, user_id: int) -> dict[str, Any] | None:
    """The user's latest library import and its report, if any."""
    return conn.execute(
        "SELECT filename, created_at, read, matched, unmatched, rejected, report"
        " FROM library_imports WHERE user_id = %s ORDER BY id DESC LIMIT 1",
        (user_id,),
    ).fetchone()
