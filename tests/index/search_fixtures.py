"""Fixtures for the search and index tests (loaded with `pytest_plugins`).

Seeded and embedded template databases are built once per session and copied
for each test; the real MiniLM model is loaded once per session for the tests
about meaning.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from paperfeed import catalogue
from paperfeed.db import Database
from paperfeed.index import backfill

from .search_helpers import HashEmbedder, seed_items


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
    backfill.refresh_statistics(db)
    db.close()
    db = Database(_create(pg_server, names["embedded"], names["seeded"]), pool_size=2)
    backfill.embed_pending(db, HashEmbedder())
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
    from paperfeed.index.embed import get_embedder

    yield get_embedder("minilm-l6-v2", Path(tmp_path_factory.mktemp("models")))
