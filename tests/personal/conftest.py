"""Fixtures for the personal layer: users and a small catalogue with known topics.

Vectors are made by hand (three topics along three axes, plus noise) so that
what the feed should do is known exactly, and no embedding model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pytest

from paperfeed import accounts, catalogue
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


@pytest.fixture
def corpus(pf: Paperfeed) -> Corpus:
    """Three topics of 12 papers each, listed over twelve weeks, with vectors."""
    rng = np.random.default_rng(0)
    papers, topics = [], []
    start = date(2024, 1, 1)
    for topic, words in TOPIC_WORDS.items():
        for i in range(12):
            day = start + timedelta(days=7 * i + list(TOPIC_WORDS).index(topic))
            papers.append(
                Paper(
                    title=f"{words.split(' for ')[0].title()} study {i}",
                    abstract=f"We study {words}. Paper {i} of the {topic} series.",
                    arxiv_id=f"2401.{list(TOPIC_WORDS).index(topic)}{i:04d}",
                    published_on=day,
                    listed_on=day,
                    upvotes=i,
                )
            )
            topics.append(topic)
    ids = add_papers(pf, papers)
    vectors = {pid: topic_vector(t, rng) for pid, t in zip(ids, topics, strict=True)}
    set_embeddings(pf, vectors)
    by_topic: dict[str, list[int]] = {t: [] for t in TOPIC_WORDS}
    for pid, t in zip(ids, topics, strict=True):
        by_topic[t].append(pid)
    return Corpus(by_topic, vectors)


@pytest.fixture
def user_id(pf: Paperfeed) -> int:
    with pf.db.transaction() as conn:
        return accounts.create_user(conn, "reader@example.org", "correct horse battery").id


@pytest.fixture
def other_user_id(pf: Paperfeed) -> int:
    with pf.db.transaction() as conn:
        return accounts.create_user(conn, "other@example.org", "correct horse battery").id
