"""The index stage: fills paper embeddings in the background of ingest.

Ingest never waits for vectors: a new paper is found by keyword at once and
`embed_pending` (the `paperfeed embed` command) gives it a vector later. The
work list is every paper without a vector or with one made by another model
than the configured one, so a model change re-embeds the catalogue.

Each batch is one transaction that locks its rows with FOR UPDATE SKIP LOCKED:
two back-fills share the work without doing any paper twice, a kill loses at
most the batch in flight, and a re-run carries on where the last one stopped.
A catalogue update of a paper's title or abstract waits for that lock, then
clears the vector (trigger in 0002_search.sql) so the paper is queued again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import psycopg

from paperfeed.db import Database
from paperfeed.index.embed import document_text

BATCH_SIZE = 128
# Serialises the rare column retype when a model of another size is configured.
DIMENSION_LOCK = 7_240_003
HNSW_OPTIONS = "m = 16, ef_construction = 64"


class DocumentEmbedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...


def column_dimension(conn: psycopg.Connection) -> int:
    """The dimension the embedding column is declared with."""
    row = conn.execute(
        "SELECT atttypmod AS dim FROM pg_attribute"
        " WHERE attrelid = 'papers'::regclass AND attname = 'embedding'"
    ).fetchone()
    return int(row["dim"])


def ensure_dimension(db: Database, dim: int) -> bool:
    """Retype the embedding column (dropping every vector) if the model's size differs.

    Vectors of different models are not comparable anyway; this only makes the
    column and its HNSW index fit the new size. Returns True when it changed.
    """
    if not 1 <= dim <= 4_000:  # halfvec HNSW indexes stop at 4,000 dimensions
        raise ValueError(f"embedding dimension {dim} is out of range 1..4000")
    with db.transaction() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DIMENSION_LOCK,))
        if column_dimension(conn) == dim:
            return False
        # dim is a checked int: DDL cannot take it as a parameter.
        conn.execute("DROP INDEX IF EXISTS papers_embedding_idx")
        conn.execute(
            f"ALTER TABLE papers ALTER COLUMN embedding TYPE halfvec({int(dim)}) USING NULL"
        )
        conn.execute(
            "UPDATE papers SET embedding_model = NULL, embedded_at = NULL"
            " WHERE embedding_model IS NOT NULL"
        )
        conn.execute(
            "CREATE INDEX papers_embedding_idx ON papers"
            f" USING hnsw (embedding halfvec_cosine_ops) WITH ({HNSW_OPTIONS})"
        )
    return True


# "Needs a vector from %(model)s", written so that both halves are index scans
# (papers_unembedded_idx, papers_embedding_model_idx): the upkeep asks every few
# minutes, and `embedding_model IS DISTINCT FROM` would read the whole table.
PENDING = (
    "(embedding IS NULL OR embedding_model IS NULL"
    " OR embedding_model < %(model)s OR embedding_model > %(model)s)"
)


def has_pending(db: Database, model: str) -> bool:
    """Whether any paper needs a vector from `model`: the upkeep's every-tick question.

    Stops at the first pending paper, so it costs index probes when nothing is
    pending and one row when everything is (after a model switch, where
    counting them reads the whole table: 1.3 s at 300k papers).
    """
    with db.connection() as conn:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM papers WHERE " + PENDING + ") AS any",  # noqa: S608
            {"model": model},
        ).fetchone()
    return bool(row["any"])


def count_pending(db: Database, model: str) -> int:
    """Papers that still need a vector from `model` (index scans only, no table scan)."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM papers WHERE " + PENDING,  # noqa: S608 - constant
            {"model": model},
        ).fetchone()
    return int(row["n"])


def _embed_batch(
    db: Database, embedder: DocumentEmbedder, after_id: int, batch_size: int
) -> tuple[int, int]:
    """Embed one batch of pending papers with ids above `after_id`; (count, last id seen)."""
    with db.transaction() as conn:
        rows = conn.execute(
            "SELECT id, title, abstract FROM papers WHERE id > %(after)s AND "  # noqa: S608
            + PENDING
            + " ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED",
            {"after": after_id, "model": embedder.name, "n": batch_size},
        ).fetchall()
        if not rows:
            return 0, after_id
        _store(conn, embedder, rows)
    return len(rows), rows[-1]["id"]


def embed_papers(db: Database, embedder: DocumentEmbedder, ids: list[int]) -> int:
    """Embed these papers now if they still need a vector of `embedder` (a fresh
    submission, so that semantic search finds it at once); return how many.

    Rows a back-fill holds are skipped: that back-fill embeds them.
    """
    if not ids:
        return 0
    ensure_dimension(db, embedder.dim)
    with db.transaction() as conn:
        rows = conn.execute(
            "SELECT id, title, abstract FROM papers WHERE id = ANY(%s)"
            " AND (embedding IS NULL OR embedding_model IS DISTINCT FROM %s)"
            " ORDER BY id FOR UPDATE SKIP LOCKED",
            (ids, embedder.name),
        ).fetchall()
        if not rows:
            return 0
        _store(conn, embedder, rows)
    return len(rows)


def _store(conn: psycopg.Connection, embedder: DocumentEmbedder, rows: list[dict]) -> None:
    """Embed the rows' "title. abstract" and write the vectors."""
    vectors = embedder.embed_documents([document_text(r["title"], r["abstract"]) for r in rows])
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape != (len(rows), embedder.dim):
        raise ValueError(f"embedder returned shape {vectors.shape} for {len(rows)} texts")
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE papers SET embedding = %s::halfvec, embedding_model = %s,"
            " embedded_at = now() WHERE id = %s",
            [(vec, embedder.name, r["id"]) for vec, r in zip(vectors, rows, strict=True)],
        )


def embed_pending(
    db: Database,
    embedder: DocumentEmbedder,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Give every pending paper a vector from `embedder`, batch by batch; return how many.

    Papers are taken in id order. Rows another back-fill holds are skipped; a
    pass that embedded anything is followed by another, so rows skipped
    because a crashed peer held them are picked up before this returns.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    ensure_dimension(db, embedder.dim)
    total = 0
    while True:
        done_in_pass, last_id = 0, 0
        while True:
            count, last_id = _embed_batch(db, embedder, last_id, batch_size)
            if not count:
                break
            done_in_pass += count
            if progress:
                progress(count)
        total += done_in_pass
        if not done_in_pass:
            return total


def refresh_statistics(db: Database) -> None:
    """Re-analyse the search column: keyword ranking takes its term frequencies from it.

    Also adds any missing block index of keyword search (`lexical.ensure_blocks`).
    """
    from paperfeed.index import lexical

    lexical.ensure_blocks(db.url)
    with db.connection() as conn:
        conn.execute("ANALYZE papers (search)")
    from paperfeed.index.search import reset_term_stats

    reset_term_stats()
