"""The embedding back-fill: resumable, shareable, and re-embedding what changed."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from paperfeed import catalogue
from paperfeed.db import Database
from paperfeed.index import backfill, search
from paperfeed.model import Paper, Record

from .search_helpers import HashEmbedder, add_papers, paper

# The seeded/embedded databases, the hash embedder and the real model.
pytest_plugins = ["tests.index.search_fixtures"]


def _embedded_by(db: Database) -> dict[str | None, int]:
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT embedding_model AS m, count(*) AS n FROM papers"
            " WHERE embedding IS NOT NULL OR embedding_model IS NULL GROUP BY 1"
        ).fetchall()
    return {r["m"]: r["n"] for r in rows}


def test_backfill_embeds_every_paper_once_and_a_rerun_does_nothing(seeded: Database) -> None:
    emb = HashEmbedder()
    done: list[int] = []
    assert backfill.embed_pending(seeded, emb, batch_size=50, progress=done.append) == 243
    assert sum(done) == 243 and max(done) == 50
    assert _embedded_by(seeded) == {"test-hash": 243}
    calls = emb.calls
    assert backfill.embed_pending(seeded, emb) == 0
    assert emb.calls == calls


def test_changed_abstract_clears_the_vector_and_the_backfill_redoes_it(embedded: Database) -> None:
    with embedded.connection() as conn:
        row = conn.execute("SELECT title, abstract FROM papers ORDER BY id LIMIT 1").fetchone()
    longer = Paper(title=row["title"], abstract=row["abstract"] + " With a longer abstract.")
    catalogue.ingest(embedded, [Record(longer, "test", "longer", "t:1")], source="test", origin="t")
    with embedded.connection() as conn:
        cleared = conn.execute(
            "SELECT count(*) AS n FROM papers WHERE embedding IS NULL"
        ).fetchone()["n"]
    assert cleared == 1
    assert backfill.embed_pending(embedded, HashEmbedder()) == 1


def test_unchanged_text_keeps_its_vector_when_other_fields_change(embedded: Database) -> None:
    with embedded.transaction() as conn:
        conn.execute("UPDATE papers SET (organization, imported_upvotes) = ('X', 5)")
    assert backfill.count_pending(embedded, "test-hash") == 0


def test_model_change_reembeds_every_paper(embedded: Database) -> None:
    other = HashEmbedder(name="other-model")
    assert backfill.count_pending(embedded, "other-model") == 243
    assert backfill.has_pending(embedded, "other-model")
    assert not backfill.has_pending(embedded, "test-hash")
    assert backfill.embed_pending(embedded, other) == 243
    assert _embedded_by(embedded) == {"other-model": 243}
    # Search uses only vectors of the configured model.
    assert search.search(embedded, other, "state space models").hits


def test_model_of_another_dimension_retypes_the_column(embedded: Database) -> None:
    small = HashEmbedder(name="small", dim=64)
    assert backfill.embed_pending(embedded, small) == 243
    with embedded.connection() as conn:
        assert backfill.column_dimension(conn) == 64
        plan = conn.execute(
            "EXPLAIN SELECT id FROM papers ORDER BY embedding <=> %s::halfvec LIMIT 5",
            (np.ones(64, dtype=np.float32),),
        ).fetchall()
    assert "papers_embedding_idx" in str(plan)
    hits = search.search(embedded, small, "Kolmogorov-Arnold networks", per_page=3).hits
    assert "Kolmogorov" in hits[0].title


class _Crashing(HashEmbedder):
    """Fails on its nth batch, like a back-fill killed half-way."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.fail_on = fail_on

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if self.calls + 1 == self.fail_on:
            raise KeyboardInterrupt("killed")
        return super().embed_documents(texts)


def test_killed_backfill_keeps_finished_batches_and_a_rerun_completes(seeded: Database) -> None:
    with pytest.raises(KeyboardInterrupt):
        backfill.embed_pending(seeded, _Crashing(fail_on=3), batch_size=40)
    assert _embedded_by(seeded).get("test-hash") == 80
    assert backfill.embed_pending(seeded, HashEmbedder(), batch_size=40) == 163
    assert backfill.count_pending(seeded, "test-hash") == 0


class _Slow(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        time.sleep(0.02)
        return super().embed_documents(texts)


def test_two_backfills_share_the_work_without_overlap(seeded: Database) -> None:
    a, b = _Slow(), _Slow()
    counts: dict[str, int] = {}

    def run(name: str, emb: _Slow) -> None:
        counts[name] = backfill.embed_pending(seeded, emb, batch_size=10)

    threads = [
        threading.Thread(target=run, args=("a", a)),
        threading.Thread(target=run, args=("b", b)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts["a"] + counts["b"] == 243
    assert counts["a"] > 0 and counts["b"] > 0
    assert not set(a.seen) & set(b.seen)
    assert backfill.count_pending(seeded, "test-hash") == 0


def test_new_paper_is_pending_until_the_backfill_runs(embedded: Database, hasher) -> None:
    [pid] = add_papers(embedded, paper("Pangolin scales"))
    assert backfill.count_pending(embedded, hasher.name) == 1
    assert backfill.embed_pending(embedded, hasher) == 1
    with embedded.connection() as conn:
        row = conn.execute(
            "SELECT embedding_model, embedded_at FROM papers WHERE id = %s", (pid,)
        ).fetchone()
    assert row["embedding_model"] == "test-hash" and row["embedded_at"] is not None
