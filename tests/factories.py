"""Factories shared by the test tree: a small catalogue with known topics and vectors.

Vectors are made by hand (three topics along three axes, plus noise) so that
what the feed should do is known exactly, and no embedding model is loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from paperfeed import catalogue
from paperfeed.app import Paperfeed
from paperfeed.model import Paper, Record

DIM = 384
TOPIC_WORDS = {
    "graphs": "graph neural networks message passing on molecular graphs",
    "speech": "speech recognition acoustic models for spoken audio",
    "robots": "robot manipulation grasping policies for robotic arms",
}


@dataclass
class Corpus:
    """Paper ids by topic, and every paper's vector."""

    ids: dict[str, list[int]]
    vectors: dict[int, np.ndarray]

    def topic_of(self, paper_id: int) -> str:
        return next(t for t, ids in self.ids.items() if paper_id in ids)


def topic_vector(topic: str, rng: np.random.Generator) -> np.ndarray:
    axis = np.zeros(DIM, dtype=np.float32)
    axis[list(TOPIC_WORDS).index(topic)] = 1.0
    noise = rng.standard_normal(DIM).astype(np.float32)
    v = axis + 0.6 * noise / np.linalg.norm(noise)
    return v / np.linalg.norm(v)


def set_embeddings(pf: Paperfeed, vectors: dict[int, np.ndarray]) -> None:
    """Store vectors as the indexer would (the test stands in for the embedding back-fill)."""
    with pf.db.transaction() as conn:
        for pid, vec in vectors.items():
            conn.execute(
                "UPDATE papers SET embedding = %s::vector::halfvec, embedding_model = 'test',"
                " embedded_at = now() WHERE id = %s",
                (vec, pid),
            )


def add_papers(pf: Paperfeed, papers: list[Paper]) -> list[int]:
    records = [Record(p, "test", f"t{i}:{p.title}", f"item {i}") for i, p in enumerate(papers)]
    catalogue.ingest(pf.db, records, source="test", origin="fixture")
    with pf.db.connection() as conn:
        rows = conn.execute("SELECT paper_id, external_key FROM paper_sources").fetchall()
    by_key = {r["external_key"]: r["paper_id"] for r in rows}
    return [by_key[r.external_key] for r in records]


@contextmanager
def local_cluster() -> Iterator[Any]:
    """A real Dask cluster for the back-fill tests: two single-thread worker
    processes (a worker can be killed on its own), a free scheduler port, no
    dashboard. `distributed` is imported here so other tests never load it."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_port=0,
    )
    try:
        yield cluster
    finally:
        cluster.close()
