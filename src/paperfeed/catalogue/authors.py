"""Authors as rows: one per distinct normalised name, with each paper's author order.

Papers keep their printed author list (`papers.authors`); `derive.sync` turns
it into `paper_authors` rows pointing at `authors`, so an author has a page,
co-authors and followers.

Names. Sources already give "First Last" (BibTeX's "Last, First" is turned
round by its parser; one left over here is turned round too). The key folds
case, accents and punctuation: "José  García-Pérez" and "Jose Garcia Perez"
are one author; "J. Garcia" is not (different key), see below.

Variants. "J. Smith" and "John Smith" may be one person or two. They are merged
only when all of this holds, and the reason is stored and shown on the page:
- one name is abbreviated (every given name an initial) and the other is not;
- same surname and the same initials, in order;
- exactly one unabbreviated author has that surname and those initials
  (two candidates, "John" and "Jane", and nothing is merged);
- they share at least one co-author, and never appear on the same paper
  (two authors of one paper are two people).
Merging re-points the variant's paper rows and follows to the full name and
keeps the variant's row (`merged_into`), so its old page address redirects.

Claims. A signed-in user may claim an author page ("this is me"); the claim
stays pending until an admin approves or rejects it, and a page has at most
one approved claim (a unique index), shown on the page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Footnote marks and affiliation numbers glued to names in some listings.
_MARKS = re.compile(r"[\d*†‡§¶#]+")
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
# Placeholders that are not people.
_NOT_NAMES = {"et al", "others", "and others", "anonymous", "et al al"}
MAX_NAME = 200


@dataclass(frozen=True)
class Name:
    """One author name as printed (cleaned) and its derived keys."""

    name: str
    key: str
    surname: str
    initials: str
    abbreviated: bool

    @property
    def slug(self) -> str:
        return slug_of_key(self.key)


def clean_name(raw: str) -> str:
    """The printed name tidied: no footnote marks, "Last, First" turned round."""
    text = " ".join(_MARKS.sub(" ", raw or "").split()).strip(" ,;")
    if text.count(",") == 1:
        last, first = (part.strip() for part in text.split(","))
        if first and last and first.lower().rstrip(".") not in _SUFFIXES:
            text = f"{first} {last}"
    return text[:MAX_NAME]


def name_key(name: str) -> str:
    """Case-, accent- and punctuation-folded name: the identity of an author row."""
    if name.isascii():  # nothing to decompose (most names): skip the per-character pass
        stripped = name
    else:
        decomposed = unicodedata.normalize("NFKD", name)
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", stripped.casefold()).split())


def slug_of_key(key: str) -> str:
    return key.replace(" ", "-")


def slug_of(name: str) -> str:
    """The /authors/<slug> of a printed name (what cards link to)."""
    return slug_of_key(name_key(clean_name(name)))


# Names repeat across papers (prolific authors, and every re-derived paper): an
# import of 20,000 Kaggle papers parsed 178,000 names, spent 40% of derivation here.
# Names are immutable, so the cache can hand the same one to every caller.
@lru_cache(maxsize=200_000)
def parse_name(raw: str) -> Name | None:
    """A Name, or None for empty strings and placeholders such as "et al."."""
    name = clean_name(raw)
    key = name_key(name)
    if not key or key in _NOT_NAMES:
        return None
    tokens = key.split()
    while len(tokens) > 1 and tokens[-1] in _SUFFIXES:
        tokens = tokens[:-1]
    surname, given = tokens[-1], tokens[:-1]
    initials = " ".join(t[0] for t in given)
    abbreviated = bool(given) and all(len(t) == 1 for t in given)
    return Name(name, key, surname, initials, abbreviated)


def upsert(conn: psycopg.Connection, names: Iterable[Name]) -> dict[str, int]:
    """The canonical author id of every name key, creating missing rows.

    Rows are inserted in key order, as every writer does, so two syncs running
    at once wait for each other instead of deadlocking.
    """
    first: dict[str, Name] = {}
    for name in names:  # the first spelling of a name is the one shown
        first.setdefault(name.key, name)
    unique = sorted(first.values(), key=lambda n: n.key)
    if not unique:
        return {}
    keys = [n.key for n in unique]
    # One statement for the batch (arrays unnested in key order) instead of one per name.
    conn.execute(
        "INSERT INTO authors (name, name_key, slug, surname, initials, abbreviated)"
        " SELECT a, b, c, d, e, f FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],"
        "   %s::text[], %s::boolean[]) WITH ORDINALITY AS n (a, b, c, d, e, f, nr)"
        " ORDER BY nr ON CONFLICT (name_key) DO NOTHING",
        (
            [n.name for n in unique],
            keys,
            [n.slug for n in unique],
            [n.surname for n in unique],
            [n.initials for n in unique],
            [n.abbreviated for n in unique],
        ),
    )
    rows = conn.execute(
        "SELECT name_key, coalesce(merged_into, id) AS id FROM authors WHERE name_key = ANY(%s)",
        (keys,),
    ).fetchall()
    return {r["name_key"]: r["id"] for r in rows}


def write_paper_authors(conn: psycopg.Connection, papers: list[dict[str, Any]]) -> set[str]:
    """Replace the author rows of these papers (id, authors); return the surnames seen."""
    parsed: list[tuple[int, list[Name]]] = []
    for paper in papers:
        names = [n for n in (parse_name(a) for a in paper["authors"]) if n is not None]
        parsed.append((paper["id"], names))
    ids = upsert(conn, (n for _, names in parsed for n in names))
    rows = []
    for paper_id, names in parsed:
        seen: set[int] = set()
        for name in names:
            author_id = ids[name.key]
            if author_id in seen:  # a name printed twice (or two merged variants)
                continue
            seen.add(author_id)
            rows.append((paper_id, len(seen), author_id))
    conn.execute("DELETE FROM paper_authors WHERE paper_id = ANY(%s)", ([p["id"] for p in papers],))
    if rows:
        with conn.cursor() as cur, cur.copy(
            "COPY paper_authors (paper_id, position, author_id) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
    return {n.surname for _, names in parsed for n in names}


def merge_variants(conn: psycopg.Connection, surnames: Iterable[str]) -> list[tuple[int, int]]:
    """Merge abbreviated names into their one full-name match (rules in the module
    docstring); return the (variant, canonical) pairs merged."""
    surnames = sorted(set(surnames))
    if not surnames:
        return []
    pairs = conn.execute(
        "SELECT v.id AS vid, v.name AS vname, f.id AS fid, f.name AS fname,"
        "       count(*) OVER (PARTITION BY v.id) AS candidates"
        " FROM authors v JOIN authors f ON f.surname = v.surname AND f.initials = v.initials"
        "  AND NOT f.abbreviated AND f.merged_into IS NULL AND f.id <> v.id"
        " WHERE v.surname = ANY(%s) AND v.abbreviated AND v.merged_into IS NULL",
        (surnames,),
    ).fetchall()
    unique = [p for p in pairs if p["candidates"] == 1]
    if not unique:
        return []
    evidence = conn.execute(
        "SELECT pair.vid, pair.fid,"
        "  EXISTS (SELECT 1 FROM paper_authors a JOIN paper_authors b USING (paper_id)"
        "          WHERE a.author_id = pair.vid AND b.author_id = pair.fid) AS together,"
        "  ARRAY(SELECT DISTINCT au.name FROM paper_authors pv"
        "        JOIN paper_authors cv ON cv.paper_id = pv.paper_id"
        "        JOIN paper_authors cf ON cf.author_id = cv.author_id"
        "        JOIN paper_authors pf ON pf.paper_id = cf.paper_id AND pf.author_id = pair.fid"
        "        JOIN authors au ON au.id = cv.author_id"
        "        WHERE pv.author_id = pair.vid AND cv.author_id NOT IN (pair.vid, pair.fid)"
        "        ORDER BY au.name LIMIT 5) AS shared"
        " FROM unnest(%s::bigint[], %s::bigint[]) AS pair (vid, fid)",
        ([p["vid"] for p in unique], [p["fid"] for p in unique]),
    ).fetchall()
    names = {p["vid"]: (p["vname"], p["fname"]) for p in unique}
    merged = []
    for row in evidence:
        if row["together"] or not row["shared"]:
            continue
        variant, full = names[row["vid"]]
        reason = (
            f"“{variant}” is shown as “{full}”: same surname and initials, no other"
            f" full name matches, and they share co-authors ({', '.join(row['shared'])})."
        )
        merge(conn, row["vid"], row["fid"], reason)
        merged.append((row["vid"], row["fid"]))
    return merged


def merge(conn: psycopg.Connection, variant: int, canonical: int, reason: str) -> None:
    """Fold author `variant` into `canonical`: papers, follows and earlier variants."""
    conn.execute(
        "UPDATE authors SET merged_into = %s, merge_reason = %s WHERE id = %s",
        (canonical, reason, variant),
    )
    conn.execute("UPDATE authors SET merged_into = %s WHERE merged_into = %s", (canonical, variant))
    conn.execute(
        "UPDATE paper_authors SET author_id = %s WHERE author_id = %s", (canonical, variant)
    )
    conn.execute(
        "INSERT INTO author_follows (user_id, author_id, created_at)"
        " SELECT user_id, %s, created_at FROM author_follows WHERE author_id = %s"
        " ON CONFLICT DO NOTHING",
        (canonical, variant),
    )
    conn.execute("DELETE FROM author_follows WHERE author_id = %s", (variant,))


# ---------------------------------------------------------------- reading


def by_slug(conn: psycopg.Connection, slug: str) -> dict[str, Any] | None:
    """The author row of a page address (possibly a merged variant)."""
    return conn.execute(
        "SELECT a.id, a.name, a.slug, a.merged_into, a.merge_reason,"
        "       (SELECT m.slug FROM authors m WHERE m.id = a.merged_into) AS merged_slug"
        " FROM authors a WHERE a.slug = %s",
        (slug,),
    ).fetchone()


def by_id(conn: psycopg.Connection, author_id: int) -> dict[str, Any] | None:
    return conn.execute(
        "SELECT id, name, slug, merged_into FROM authors WHERE id = %s", (author_id,)
    ).fetchone()


def variants(conn: psycopg.Connection, author_id: int) -> list[dict[str, Any]]:
    """The names merged into this author, each with the reason."""
    return conn.execute(
        "SELECT name, slug, merge_reason FROM authors WHERE merged_into = %s ORDER BY name",
        (author_id,),
    ).fetchall()


def coauthors(conn: psycopg.Connection, author_id: int, limit: int = 30) -> list[dict[str, Any]]:
    """The people this author wrote with, most shared papers first."""
    return conn.execute(
        "SELECT a.name, a.slug, count(*) AS papers FROM paper_authors mine"
        " JOIN paper_authors other ON other.paper_id = mine.paper_id"
        "  AND other.author_id <> mine.author_id"
        " JOIN authors a ON a.id = other.author_id"
        " WHERE mine.author_id = %s GROUP BY a.id ORDER BY papers DESC, a.name LIMIT %s",
        (author_id, limit),
    ).fetchall()


def organizations(conn: psycopg.Connection, author_id: int) -> list[dict[str, Any]]:
    """Organisations of the author's papers (as the sources name them), most papers first."""
    return conn.execute(
        "SELECT p.organization AS name, count(*) AS papers FROM paper_authors pa"
        " JOIN papers p ON p.id = pa.paper_id"
        " WHERE pa.author_id = %s AND p.organization IS NOT NULL"
        " GROUP BY p.organization ORDER BY papers DESC, p.organization",
        (author_id,),
    ).fetchall()


def of_paper(conn: psycopg.Connection, paper_id: int) -> list[dict[str, Any]]:
    """A paper's authors in printed order, with their canonical page."""
    return conn.execute(
        "SELECT pa.position, a.id, a.name, a.slug FROM paper_authors pa"
        " JOIN authors a ON a.id = pa.author_id WHERE pa.paper_id = %s ORDER BY pa.position",
        (paper_id,),
    ).fetchall()


# ---------------------------------------------------------------- claims ("this page is me")


class ClaimError(ValueError):
    """A claim that cannot be made or decided."""


def claim(conn: psycopg.Connection, user_id: int, author_id: int, message: str = "") -> None:
    """Ask to be recognised as this author (pending until an admin decides)."""
    row = conn.execute(
        "SELECT merged_into, (SELECT 1 FROM author_claims c WHERE c.author_id = a.id"
        "  AND c.status = 'approved') AS taken FROM authors a WHERE id = %s",
        (author_id,),
    ).fetchone()
    if row is None or row["merged_into"] is not None:
        raise ClaimError("There is no such author page.")
    if row["taken"]:
        raise ClaimError("This author page is already claimed.")
    conn.execute(
        "INSERT INTO author_claims (author_id, user_id, message) VALUES (%s, %s, %s)"
        " ON CONFLICT (author_id, user_id) DO UPDATE SET message = excluded.message,"
        " status = 'pending', created_at = now(), decided_at = NULL, decided_by = NULL"
        " WHERE author_claims.status <> 'approved'",
        (author_id, user_id, " ".join((message or "").split())[:2000]),
    )


def decide(conn: psycopg.Connection, admin_id: int, claim_id: int, approve: bool) -> None:
    """Approve or reject a pending claim (approving rejects the page's other claims)."""
    row = conn.execute(
        "SELECT author_id, status FROM author_claims WHERE id = %s FOR UPDATE", (claim_id,)
    ).fetchone()
    if row is None or row["status"] != "pending":
        raise ClaimError("There is no such pending claim.")
    if approve:
        conn.execute(
            "UPDATE author_claims SET status = 'rejected', decided_at = now(), decided_by = %s"
            " WHERE author_id = %s AND id <> %s AND status = 'pending'",
            (admin_id, row["author_id"], claim_id),
        )
    conn.execute(
        "UPDATE author_claims SET status = %s, decided_at = now(), decided_by = %s WHERE id = %s",
        ("approved" if approve else "rejected", admin_id, claim_id),
    )


def claim_state(conn: psycopg.Connection, author_id: int, user_id: int | None) -> dict[str, Any]:
    """Who holds the page (approved claim) and the viewer's own claim status, if any."""
    row = conn.execute(
        "SELECT (SELECT coalesce(nullif(u.display_name, ''), split_part(u.email, '@', 1))"
        "        FROM author_claims c JOIN users u ON u.id = c.user_id"
        "        WHERE c.author_id = %(a)s AND c.status = 'approved') AS holder,"
        "       (SELECT status FROM author_claims WHERE author_id = %(a)s AND user_id = %(u)s)"
        "        AS mine",
        {"a": author_id, "u": user_id},
    ).fetchone()
    return dict(row)


def pending_claims(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Claims waiting for an admin, oldest first."""
    return conn.execute(
        "SELECT c.id, c.message, c.created_at, a.name, a.slug, u.email,"
        " (SELECT count(*) FROM paper_authors pa WHERE pa.author_id = a.id) AS papers"
        " FROM author_claims c JOIN authors a ON a.id = c.author_id"
        " JOIN users u ON u.id = c.user_id WHERE c.status = 'pending' ORDER BY c.created_at"
    ).fetchall()
