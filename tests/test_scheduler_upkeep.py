"""The upkeep jobs after ingestion: submissions, bounded embedding back-fill, topic assignment."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from paperfeed import catalogue, scheduler
from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts
from paperfeed.index import backfill
from paperfeed.model import Paper, Record
from paperfeed.ranking import topics
from tests.delivery.conftest import add_papers
from tests.factories import DIM, set_embeddings, topic_vector

NOW = datetime(2026, 11, 23, 13, 7, tzinfo=UTC)
UPKEEP = ["submissions", "embed", "topics"]


class FakeEmbedder:
    """A vector per topic word in the text, as the real model would put similar papers close."""

    name = "test"
    dim = DIM

    def __init__(self) -> None:
        self.rng = np.random.default_rng(1)
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        topic = ["robots" if "robot" in t.lower() else "speech" for t in texts]
        return np.vstack([topic_vector(t, self.rng) for t in topic])


class FakeArxivApi:
    """Stands in for ArxivClient.search (the API the submissions fetch asks)."""

    def search(self, query: str, max_results: int = 5):
        arxiv_id = query.removeprefix("id:")
        paper = Paper(title="Submitted robot grasping", abstract="robot arms", arxiv_id=arxiv_id)
        return [Record(paper, "arxiv", arxiv_id, f"https://arxiv.org/abs/{arxiv_id}")]


@pytest.fixture
def upf(mpf) -> Paperfeed:
    """The test's Paperfeed, with vectors named like the fake embedder's."""
    return Paperfeed(dataclasses.replace(mpf.settings, embedding_model="test"), database=mpf.db)


def _map_with_pending_papers(pf: Paperfeed) -> list[int]:
    """A topic map over 12 embedded papers, then 5 new papers without vectors."""
    rng = np.random.default_rng(0)
    day = date(2026, 11, 1)
    old = add_papers(pf, [(f"Robot study {i}", day, 0) for i in range(6)])
    old += add_papers(pf, [(f"Speech study {i}", day, 0) for i in range(6)])
    vectors = {pid: topic_vector("robots" if i < 6 else "speech", rng) for i, pid in enumerate(old)}
    set_embeddings(pf, vectors)
    topics.build(pf.db, k=2)
    return add_papers(pf, [(f"New robot paper {i}", day + timedelta(i), 0) for i in range(5)])


def _runs(pf) -> dict[str, dict]:
    with pf.db.connection() as conn:
        rows = conn.execute("SELECT * FROM scheduler_runs ORDER BY id").fetchall()
    return {r["job"]: r for r in rows}


def test_upkeep_jobs_follow_ingestion_in_the_job_list(upf) -> None:
    settings = dataclasses.replace(upf.settings, arxiv_sets="cs", hf_daily=True)
    pf = Paperfeed(settings, database=upf.db)
    jobs = scheduler.default_jobs(pf, arxiv_client=FakeArxivApi, hf_fetch=lambda day: [])
    ingest = ("ingest:arxiv:cs", "ingest:hf_daily")
    assert [j.name for j in jobs] == ["digest", *ingest, *UPKEEP]
    after = {j.name: tuple(before.name for before in j.after) for j in jobs}
    assert after["submissions"] == ingest
    assert after["embed"] == (*ingest, "submissions")
    assert after["topics"] == ("embed",)
    assert after["digest"] == ()


def test_a_job_waits_until_the_current_slot_of_a_job_it_builds_on_is_settled(mpf) -> None:
    release = threading.Event()
    order: list[str] = []

    def first(pf, now):
        release.wait(5)
        order.append("first")
        return {}

    def second(pf, now):
        order.append("second")
        return {}

    slot = scheduler.minute_slot(5)
    before = scheduler.Job("first", slot, first)
    after = scheduler.Job("second", slot, second, (before,))
    assert scheduler.run_job(mpf, after, NOW, "b") == "waiting"  # "first" has not run yet
    sched = scheduler.Scheduler(mpf, [before, after], instance="a")
    started = sched.tick(NOW)
    assert started[1].result() == "waiting"  # "first" is still running
    release.set()
    assert started[0].result() == "finished"
    assert [f.result() for f in sched.tick(NOW)] == ["done", "finished"]
    assert order == ["first", "second"]
    assert set(_runs(mpf)) == {"first", "second"}
    # A failed run settles its slot too: what builds on it still runs.
    failing = scheduler.Job("first", slot, lambda pf, now: 1 / 0)
    later = NOW + timedelta(minutes=5)
    assert scheduler.run_job(mpf, failing, later, "a") == "failed"
    assert scheduler.run_job(mpf, after, later, "a") == "finished"


def test_a_scheduler_run_fetches_submissions_embeds_and_assigns_topics(upf) -> None:
    new = _map_with_pending_papers(upf)
    with upf.db.transaction() as conn:
        user = accounts.create_user(conn, "submitter@example.org", "correct horse battery")
        accounts.submit_arxiv(conn, user.id, "2611.00042")
    embedder = FakeEmbedder()
    jobs = scheduler.default_jobs(upf, arxiv_client=FakeArxivApi, load_embedder=lambda: embedder)
    sched = scheduler.Scheduler(upf, jobs, instance="a")
    for _ in range(5):  # each tick starts what no longer waits for another job
        for future in sched.tick(NOW):
            future.result()
    runs = _runs(upf)
    assert all(runs[name]["status"] == "finished" for name in UPKEEP)
    assert runs["submissions"]["summary"] == {"imported": 1, "failed": 0}
    # The submitted paper arrived before the back-fill, so it was embedded and placed too.
    # ... and every paper got key phrases and a summary (index/phrases.py) in the same job.
    assert runs["embed"]["summary"] == {"embedded": 6, "pending": 0, "summarised": 18}
    assert runs["topics"]["summary"] == {"assigned": 6}
    assert runs["embed"]["started_at"] >= runs["submissions"]["finished_at"]
    assert runs["topics"]["started_at"] >= runs["embed"]["finished_at"]
    assert backfill.count_pending(upf.db, "test") == 0
    with upf.db.connection() as conn:
        placed = conn.execute(
            "SELECT count(*) AS n FROM paper_topics WHERE paper_id = ANY(%s)", (new,)
        ).fetchone()["n"]
    assert placed == len(new)
    assert catalogue.count_papers(upf.db) == 18


def test_the_embedding_backfill_is_bounded_per_slot(upf) -> None:
    _map_with_pending_papers(upf)
    embedder = FakeEmbedder()
    job = scheduler.embed_job(lambda: embedder, max_papers=2, batch_size=2)
    assert scheduler.run_job(upf, job, NOW, "a") == "finished"
    assert _runs(upf)["embed"]["summary"] == {"embedded": 2, "pending": 3}
    assert len(embedder.texts) == 2  # it stopped after the batch, not after the back-fill
    assert scheduler.run_job(upf, job, NOW, "a") == "done"  # one run per slot
    later = NOW + timedelta(minutes=scheduler.UPKEEP_EVERY)
    scheduler.run_job(upf, job, later, "a")
    scheduler.run_job(upf, job, later + timedelta(minutes=scheduler.UPKEEP_EVERY), "a")
    assert backfill.count_pending(upf.db, "test") == 0 and len(embedder.texts) == 5


def test_the_topics_job_draws_the_first_map_after_the_first_import(upf) -> None:
    """Issue 14 item 5: a fresh install gets its topic map without `topics build`."""
    rng = np.random.default_rng(1)
    day = date(2026, 11, 1)
    job = scheduler.topics_job()
    few = add_papers(upf, [(f"Robot study {i}", day, 0) for i in range(5)])
    set_embeddings(upf, {pid: topic_vector("robots", rng) for pid in few})
    assert scheduler.run_job(upf, job, NOW, "a") == "finished"
    assert _runs(upf)["topics"]["summary"] == {"assigned": 0}  # too few papers for a map
    more = add_papers(upf, [(f"Speech study {i}", day, 0) for i in range(20)])
    set_embeddings(upf, {pid: topic_vector("speech", rng) for pid in more})
    assert scheduler.run_job(upf, job, NOW + timedelta(minutes=10), "a") == "finished"
    with upf.db.connection() as conn:
        placed = conn.execute("SELECT count(*) AS n FROM paper_topics").fetchone()["n"]
        [latest] = conn.execute(
            "SELECT summary FROM scheduler_runs WHERE job = 'topics' ORDER BY id DESC LIMIT 1"
        ).fetchall()
    assert "built" in latest["summary"] and placed == 25
    # Later runs only place new papers on that map.
    assert topics.build_first(upf.db, scheduler.FIRST_MAP_PAPERS) is None
