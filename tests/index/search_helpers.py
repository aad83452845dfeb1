"""Helpers for the search and index tests: a test embedder and test papers.

`HashEmbedder` is a deterministic bag-of-words vector (feature hashing): it
needs no model, takes microseconds, and papers sharing words are near, which
is all that filters, pagination or the back-fill need.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

import numpy as np

from paperfeed import catalogue
from paperfeed.db import Database
from paperfeed.model import Paper, Record
from paperfeed.sources import listing
from tests.conftest import SEEDS

_TOKEN = re.compile(r"[a-z0-9]+")


class HashEmbedder:
    """Deterministic bag-of-words vectors (feature hashing), normalised."""

    def __init__(self, name: str = "test-hash", dim: int = 384) -> None:
        self.name = name
        self.dim = dim
        self.calls = 0

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for token in _TOKEN.findall(text.lower()):
            digest = hashlib.sha1(token.encode()).digest()
            vec[int.from_bytes(digest[:4], "big") % self.dim] += 1.0 if digest[4] % 2 else -1.0
        if not vec.any():
            vec[0] = 1.0
        return vec / np.linalg.norm(vec)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


def seed_items() -> list:
    """Every card of the five seed listing pages."""
    items = []
    for path in SEEDS:
        items.extend(listing.parse(path.read_bytes(), str(path), 2025))
    return items


def add_papers(db: Database, *papers: Paper) -> list[int]:
    """Import papers through the catalogue and return their ids, in order."""
    records = [Record(p, "test", f"k{i}-{p.title[:20]}", f"test:{i}") for i, p in enumerate(papers)]
    catalogue.ingest(db, records, source="test", origin="search tests")
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT id, norm_title, arxiv_id FROM papers WHERE norm_title = ANY(%s)",
            ([p.normalised_title for p in papers],),
        ).fetchall()
    ids = []
    for p in papers:
        match = [
            r for r in rows if r["norm_title"] == p.normalised_title and r["arxiv_id"] == p.arxiv_id
        ]
        ids.append(match[0]["id"])
    return ids


def paper(title: str, abstract: str = "", **fields: object) -> Paper:
    """A test paper with a default listing date."""
    fields.setdefault("published_on", date(2025, 1, 15))
    return Paper(title=title, abstract=abstract or f"About {title.lower()}.", **fields)
