"""Factories shared by the test tree: a small catalogue with known topics and vectors.

Vectors are made by hand (three topics along three axes, plus noise) so that
what the feed should do is known exactly, and no embedding model is loaded.
Also `killed_at_the_hold`, which stalls a writer where it writes hidden_papers
so a test can look at what is committed then, and after a crash right there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row

from paperfeed import catalogue
from paperfeed.app import Paperfeed
from paperfeed.catalogue.moderation import VISIBLE
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



class _HeldBack:
    """What a test sees while writes to hidden_papers wait (see `killed_at_the_hold`)."""

    def __init__(self, observer: psycopg.Connection) -> None:
        self.observer = observer

    def waiter(self, timeout: float = 120) -> int:
        """The backend waiting to write hidden_papers (its pid), once one is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = self.observer.execute(
                "SELECT pid FROM pg_locks WHERE NOT granted"
                " AND relation = 'hidden_papers'::regclass LIMIT 1"
            ).fetchone()
            if row is not None:
                return row["pid"]
            time.sleep(0.02)
        raise AssertionError("nothing tried to write hidden_papers")

    def visible_titles(self) -> list[str]:
        """The committed papers every public reader would show (moderation.VISIBLE)."""
        rows = self.observer.execute(
            "SELECT p.title FROM papers p WHERE " + VISIBLE + " ORDER BY p.id"  # noqa: S608
        ).fetchall()
        return [r["title"] for r in rows]


def killed_at_the_hold(
    database_url: str, action: Callable[[], None]
) -> tuple[list[str], list[str]]:
    """Run `action` until it waits to write hidden_papers, then kill its backend there (as a
    crash would: its open transaction rolls back). The titles the public would see at that
    moment, and after the crash.

    No patching: a second connection holds SHARE on hidden_papers, which makes every
    insert into it wait (readers do not), and a third one looks at what is committed.
    """
    worker = threading.Thread(target=action)
    try:
        with (
            psycopg.connect(database_url, row_factory=dict_row) as blocker,
            psycopg.connect(database_url, row_factory=dict_row, autocommit=True) as observer,
            blocker.transaction(),
        ):
            blocker.execute("LOCK TABLE hidden_papers IN SHARE MODE")
            held = _HeldBack(observer)
            worker.start()
            pid = held.waiter()
            stalled = held.visible_titles()
            observer.execute("SELECT pg_terminate_backend(%s)", (pid,))
            worker.join(60)
            return stalled, held.visible_titles()
    finally:
        if worker.is_alive():  # a failure above released the lock: let it finish
            worker.join(60)
