"""Fixtures for the search and index tests: the seed corpus, test embedders, the real model.

Most tests embed with `HashEmbedder`, a deterministic bag-of-words vector: it
needs no model, takes microseconds, and papers sharing words are near, which
is all that filters, pagination or the back-fill need. The real MiniLM model
is loaded once per test session for the tests about meaning.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from paperfeed import catalogue, index
from paperfeed.db import Database
from paperfeed.model import Paper, Record
from paperfeed.sources import listing

from .conftest import SEEDS

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


def _create(server: str, name: str, template: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return make_conninfo(server, dbname=name)


def _drop(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def search_templates(pg_server: str, template_db: str) -> Iterator[dict[str, str]]:
    """Two template databases built once: seeds imported, and seeds imported and embedded."""
    names = {kind: f"pf_search_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("seeded", "embedded")}
    db = Database(_create(pg_server, names["seeded"], template_db), pool_size=2)
    catalogue.ingest(db, seed_items(), source="listing", origin="seeds")
    index.refresh_statistics(db)
    db.close()
    db = Database(_create(pg_server, names["embedded"], names["seeded"]), pool_size=2)
    index.embed_pending(db, HashEmbedder())
    db.close()
    yield names
    for name in names.values():
        _drop(pg_server, name)


def _clone(pg_server: str, template: str) -> Iterator[Database]:
    name = f"pf_test_{uuid.uuid4().hex[:12]}"
    db = Database(_create(pg_server, name, template), pool_size=4)
    yield db
    db.close()
    _drop(pg_server, name)


@pytest.fixture
def seeded(pg_server: str, search_templates: dict[str, str]) -> Iterator[Database]:
    """A database of its own holding the 243 seed papers, not yet embedded."""
    yield from _clone(pg_server, search_templates["seeded"])


@pytest.fixture
def embedded(pg_server: str, search_templates: dict[str, str]) -> Iterator[Database]:
    """A database of its own holding the seed papers, each embedded by `HashEmbedder()`."""
    yield from _clone(pg_server, search_templates["embedded"])


@pytest.fixture
def hasher() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The real default model, loaded once per session."""
    from paperfeed.embed import get_embedder

    yield get_embedder("minilm-l6-v2", Path(tmp_path_factory.mktemp("models")))


def paper(title: str, abstract: str = "", **fields: object) -> Paper:
    """A test paper with a default listing date."""
    fields.setdefault("published_on", date(2025, 1, 15))
    return Paper(title=title, abstract=abstract or f"About {title.lower()}.", **fields)
