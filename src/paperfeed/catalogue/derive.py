"""Rows derived from papers: authors, links and imported summaries, kept in step.

Triggers (0007_community.sql) queue a paper in `paper_derive_queue` whenever
an import creates it, changes a field the derived rows come from, or adds a
raw sighting. `sync` drains the queue batch by batch: each batch is one
transaction that takes its queue rows with FOR UPDATE SKIP LOCKED (two syncs
share the work), rewrites the papers' author rows and links, keeps Hugging
Face's summary and keywords (or drops a computed summary whose text changed),
merges author variants it made possible, and deletes the queue rows. A paper
changed while its batch runs is queued again by its own transaction (the
insert waits for the batch's lock, then finds the row gone), so nothing is
lost; a crash leaves the queue as it was.

An import's writers derive the papers of each batch they commit (`sync_papers`,
in a transaction of its own right after the batch's), so the derived rows are
written while the import goes on instead of in one pass after it. `ingest` then
calls `sync` for whatever is left (papers a concurrent sync held, a batch whose
derivation collided); the embedding back-fill and the scheduler call it too, so a
database upgraded from before 0006 catches up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import psycopg

from paperfeed.catalogue import authors, links
from paperfeed.db import Database

BATCH = 1_000
MAX_PHRASES = 10


def text_md5(title: str, abstract: str) -> str:
    """The fingerprint a summary is made from (same as md5(title || E'\\n' || abstract))."""
    return hashlib.md5(f"{title}\n{abstract}".encode()).hexdigest()  # noqa: S324 - not security


def _hf_summary(raws: list[dict[str, Any]]) -> tuple[str, list[str]] | None:
    """Hugging Face's ai_summary / ai_keywords from the raw records, if any has them."""
    for raw in raws:
        fields = raw.get("paper") if isinstance(raw.get("paper"), dict) else raw
        summary = fields.get("ai_summary")
        keywords = fields.get("ai_keywords")
        phrases = (
            [" ".join(k.split()) for k in keywords if isinstance(k, str) and k.strip()]
            if isinstance(keywords, list)
            else []
        )
        if isinstance(summary, str) and summary.strip() or phrases:
            text = " ".join(summary.split()) if isinstance(summary, str) else ""
            return text[:1_000], list(dict.fromkeys(phrases))[:MAX_PHRASES]
    return None


def _sync_batch(conn: psycopg.Connection, batch: int, only: list[int] | None = None) -> int:
    """Derive up to `batch` queued papers (of `only`, when given); return how many."""
    if only is None:
        rows = conn.execute(
            "SELECT paper_id FROM paper_derive_queue ORDER BY paper_id LIMIT %s"
            " FOR UPDATE SKIP LOCKED",
            (batch,),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT paper_id FROM paper_derive_queue WHERE paper_id = ANY(%s)"
            " ORDER BY paper_id LIMIT %s FOR UPDATE SKIP LOCKED",
            (only, batch),
        ).fetchall()
    queued = [r["paper_id"] for r in rows]
    if not queued:
        return 0
    papers = conn.execute(
        "SELECT id, title, abstract, authors, arxiv_id, doi, github_url FROM papers"
        " WHERE id = ANY(%s) ORDER BY id",
        (queued,),
    ).fetchall()
    raws: dict[int, list[dict[str, Any]]] = {p["id"]: [] for p in papers}
    for row in conn.execute(
        "SELECT paper_id, raw FROM paper_sources WHERE paper_id = ANY(%s)"
        " AND (raw ? 'paper' OR raw ? 'githubRepo' OR raw ? 'ai_summary')"
        " ORDER BY first_seen, source, external_key",
        (queued,),
    ).fetchall():
        if isinstance(row["raw"], dict):
            raws[row["paper_id"]].append(row["raw"])

    surnames = authors.write_paper_authors(conn, papers)
    links.write(conn, {p["id"]: links.extract(p, raws[p["id"]]) for p in papers})
    _write_imported_summaries(conn, papers, raws)
    authors.merge_variants(conn, surnames)
    conn.execute("DELETE FROM paper_derive_queue WHERE paper_id = ANY(%s)", (queued,))
    return len(queued)


def _write_imported_summaries(
    conn: psycopg.Connection, papers: list[dict[str, Any]], raws: dict[int, list[dict[str, Any]]]
) -> None:
    imported, others = [], []
    for paper in papers:
        found = _hf_summary(raws[paper["id"]])
        if found:
            md5 = text_md5(paper["title"], paper["abstract"])
            imported.append((paper["id"], found[0], found[1], md5))
        else:
            others.append(paper["id"])
    with conn.cursor() as cur:
        if imported:
            cur.executemany(
                "INSERT INTO paper_summaries (paper_id, summary, key_phrases, origin, text_md5)"
                " VALUES (%s, %s, %s, 'hf', %s) ON CONFLICT (paper_id) DO UPDATE SET"
                " summary = excluded.summary, key_phrases = excluded.key_phrases,"
                " origin = 'hf', model = NULL, text_md5 = excluded.text_md5, computed_at = now()",
                imported,
            )
        if others:
            # A computed summary of an older text is dropped; the back-fill makes a new one.
            # One statement for the batch, the fingerprint taken in SQL (text_md5's twin):
            # most papers of an import have no summary to compare.
            cur.execute(
                "DELETE FROM paper_summaries s USING papers p"
                " WHERE p.id = ANY(%s) AND s.paper_id = p.id"
                "   AND s.text_md5 <> md5(p.title || E'\\n' || p.abstract)",
                (others,),
            )


def sync(db: Database, *, batch: int = BATCH, progress: Callable[[int], None] | None = None) -> int:
    """Derive the rows of every queued paper; return how many papers were done."""
    total = 0
    while True:
        with db.transaction() as conn:
            done = _sync_batch(conn, batch)
        if not done:
            return total
        total += done
        if progress:
            progress(done)


# What a derivation running beside another one (the other writer's, a scheduled
# sync) can meet: both inserting one new author, or merging one variant.
_COLLISIONS = (psycopg.errors.DeadlockDetected, psycopg.errors.UniqueViolation)


def sync_papers(conn: psycopg.Connection, paper_ids: list[int]) -> int:
    """Derive those of these papers that are queued, in one transaction; return how many.

    For the writers of an import, right after they committed a batch. A derivation
    that collides with a concurrent one is rolled back and left queued: the `sync`
    at the end of the import (or the next one) derives it, so nothing is retried here.
    """
    if not paper_ids:
        return 0
    try:
        with conn.transaction():
            return _sync_batch(conn, len(paper_ids), paper_ids)
    except _COLLISIONS:
        return 0


def pending(db: Database) -> int:
    """Papers waiting for their derived rows."""
    with db.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM paper_derive_queue").fetchone()["n"]
