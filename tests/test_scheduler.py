"""The scheduler: slots, one run per slot across instances, ingest through injected sources."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, date, datetime

from paperfeed import catalogue, scheduler
from paperfeed.app import Paperfeed
from paperfeed.delivery import digest
from paperfeed.delivery.candidates import CandidateFinder
from paperfeed.model import Paper, Record
from tests.conftest import Mailbox
from tests.delivery.conftest import active_subscription, add_papers

NOW = datetime(2026, 11, 23, 13, 7, tzinfo=UTC)


def _runs(pf) -> list[dict]:
    with pf.db.connection() as conn:
        return conn.execute("SELECT * FROM scheduler_runs ORDER BY id").fetchall()


def test_slots_are_the_latest_scheduled_moment() -> None:
    slot = scheduler.hourly_slot([1, 13])
    assert slot(NOW) == "2026-11-23T13"
    assert slot(NOW.replace(hour=12)) == "2026-11-23T01"
    assert slot(NOW.replace(hour=0)) == "2026-11-22T13"
    assert scheduler.minute_slot(5)(NOW) == "2026-11-23T13:05"
    assert scheduler.hourly_slot([])(NOW) is None


def test_two_instances_run_each_slot_once_and_record_it(mpf) -> None:
    calls: list[str] = []

    def slow(pf, now):
        calls.append(now.isoformat())
        time.sleep(0.3)
        return {"ok": 1}

    job = scheduler.Job("test-job", scheduler.minute_slot(5), slow)
    a = scheduler.Scheduler(mpf, [job], instance="a")
    b = scheduler.Scheduler(mpf, [job], instance="b")
    futures = a.tick(NOW) + b.tick(NOW)
    results = sorted(f.result() for f in futures)
    assert results in (["busy", "finished"], ["done", "finished"])
    assert [f.result() for f in a.tick(NOW)] == ["done"]
    assert len(calls) == 1
    [run] = _runs(mpf)
    assert (run["job"], run["slot"], run["status"], run["summary"]) == (
        "test-job",
        "2026-11-23T13:05",
        "finished",
        {"ok": 1},
    )
    assert run["finished_at"] is not None
    # The next slot runs again.
    assert [f.result() for f in b.tick(NOW.replace(minute=11))] == ["finished"]
    assert len(calls) == 2


def test_failed_and_abandoned_runs_are_recorded(mpf) -> None:
    def boom(pf, now):
        raise RuntimeError("source down")

    job = scheduler.Job("bad-job", scheduler.minute_slot(5), boom)
    assert scheduler.run_job(mpf, job, NOW, "a") == "failed"
    with mpf.db.transaction() as conn:  # a run whose instance died mid-way
        conn.execute(
            "INSERT INTO scheduler_runs (job, slot, instance) VALUES ('bad-job', 'x', 'dead')"
        )
    scheduler.run_job(mpf, job, NOW.replace(minute=20), "a")
    runs = {r["slot"]: r for r in _runs(mpf)}
    assert runs["2026-11-23T13:05"]["status"] == "failed"
    assert "source down" in runs["2026-11-23T13:05"]["message"]
    assert runs["x"]["status"] == "failed" and "stopped" in runs["x"]["message"]


def test_concurrent_digest_runs_send_each_digest_once(mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [(f"Paper {i}", date(2026, 11, 23), i) for i in range(5)])
    for i in range(12):
        active_subscription(mpf, f"r{i}@example.com", send_hour=8)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def instance() -> None:
        # Each instance has its own Paperfeed (its own connection pool), as
        # separate processes would.
        try:
            with Paperfeed(mpf.settings) as own:
                barrier.wait()
                digest.run(own, now=NOW, finder=CandidateFinder())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=instance) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    recipients = sorted(str(m["To"]) for m in mailbox.messages)
    assert recipients == sorted(f"r{i}@example.com" for i in range(12))


class FakeArxiv:
    """Stands in for sources.arxiv.ArxivClient: records `since`, yields two papers."""

    calls: list = []

    def __init__(self) -> None:
        self.response_date = None

    def harvest(self, set_spec, since):
        FakeArxiv.calls.append((set_spec, since))
        for n in (1, 2):
            yield Record(
                Paper(
                    title=f"Harvested {set_spec} {n}",
                    arxiv_id=f"2611.0000{n}",
                    published_on=date(2026, 11, 22),
                ),
                "arxiv",
                f"2611.0000{n}",
                f"#{n}",
            )
        self.response_date = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_ingest_jobs_use_the_sources_and_remember_where_they_stopped(mpf) -> None:
    FakeArxiv.calls = []
    fetched: list[date] = []

    def hf_fetch(day: date):
        fetched.append(day)
        return [
            Record(
                Paper(title=f"HF {day}", listed_on=day, upvotes=3), "hf_daily", f"hf-{day}", "#1"
            )
        ]

    settings = dataclasses.replace(mpf.settings, arxiv_sets="cs", hf_daily=True)
    pf = Paperfeed(settings, database=mpf.db)
    jobs = scheduler.default_jobs(pf, arxiv_client=FakeArxiv, hf_fetch=hf_fetch)
    assert [j.name for j in jobs][:3] == ["digest", "ingest:arxiv:cs", "ingest:hf_daily"]
    for job in jobs[1:3]:
        assert scheduler.run_job(pf, job, NOW, "a") == "finished"
    assert catalogue.count_papers(pf.db) == 4
    assert fetched == [date(2026, 11, 22), date(2026, 11, 23)]
    assert catalogue.get_state(pf.db, "arxiv", "harvest:cs") == "2026-11-23"
    # The next slot's harvest starts where this one stopped.
    scheduler.run_job(pf, jobs[1], NOW.replace(day=24), "a")
    assert FakeArxiv.calls == [("cs", None), ("cs", date(2026, 11, 23))]
    summaries = {r["job"]: r["summary"] for r in _runs(pf)}
    assert summaries["ingest:hf_daily"] == {"read": 2, "new": 2, "rejected": 0}


def test_a_failed_ingest_slot_is_tried_again_before_the_next_hour(mpf) -> None:
    attempts: list[str] = []

    def flaky(pf, now):
        attempts.append(now.isoformat())
        if len(attempts) < 3:
            raise RuntimeError("arXiv answered 503")
        return {"new": 1}

    job = scheduler.Job("ingest:flaky", scheduler.hourly_slot([13]), flaky, retries=2)

    def fail_long_ago() -> None:  # as if RETRY_AFTER had passed since the last attempt
        with mpf.db.transaction() as conn:
            conn.execute(
                "UPDATE scheduler_runs SET finished_at = finished_at - interval '1 hour'"
                " WHERE job = 'ingest:flaky'"
            )

    assert scheduler.run_job(mpf, job, NOW, "a") == "failed"
    # Too soon after the failure: skipped, not retried at every tick.
    assert scheduler.run_job(mpf, job, NOW, "a") == "done"
    fail_long_ago()
    assert scheduler.run_job(mpf, job, NOW.replace(minute=30), "b") == "failed"
    fail_long_ago()
    assert scheduler.run_job(mpf, job, NOW.replace(minute=50), "a") == "finished"
    fail_long_ago()
    # Succeeded: no further attempt in this slot; the next scheduled hour runs normally.
    assert scheduler.run_job(mpf, job, NOW.replace(minute=55), "a") == "done"
    assert [(r["slot"], r["status"]) for r in _runs(mpf)] == [
        ("2026-11-23T13", "failed"),
        ("2026-11-23T13#retry1", "failed"),
        ("2026-11-23T13#retry2", "finished"),
    ]
    assert len(attempts) == 3


def test_an_ingest_slot_is_retried_a_bounded_number_of_times(mpf) -> None:
    def down(pf, now):
        raise RuntimeError("source down")

    job = scheduler.Job("ingest:down", scheduler.hourly_slot([13]), down, retries=1)
    for _ in range(4):
        scheduler.run_job(mpf, job, NOW, "a")
        with mpf.db.transaction() as conn:
            conn.execute("UPDATE scheduler_runs SET finished_at = finished_at - interval '1 hour'")
    assert [r["slot"] for r in _runs(mpf)] == ["2026-11-23T13", "2026-11-23T13#retry1"]
    # The scheduled ingest jobs do retry.
    assert scheduler.hf_daily_job([1, 13], lambda day: []).retries == scheduler.INGEST_RETRIES


def test_run_once_reports_failures_before_their_callbacks_count_them(mpf) -> None:
    """`worker --once` exits 1 when a job fails. `wait` returns before a future's
    done-callback has run, so the outcomes are read from the futures: CI once saw exit
    code 0 with every job failing, because the failure counter had not caught up."""

    class SlowToSettle(scheduler.Scheduler):
        def _settle(self, name, future) -> None:
            time.sleep(0.5)
            super()._settle(name, future)

    def boom(pf, now):
        raise RuntimeError("source down")

    def no_slot(now):
        raise ConnectionError("database gone")  # raised around the run, not in its body

    jobs = [
        scheduler.Job("bad", scheduler.minute_slot(5), boom),
        scheduler.Job("around", no_slot, boom),
        scheduler.Job("good", scheduler.minute_slot(5), lambda pf, now: {}),
    ]
    sched = SlowToSettle(mpf, jobs, instance="a")
    outcomes = sched.run_once(NOW)
    assert outcomes == {"bad": "failed", "around": "error", "good": "finished"}
    assert sum(o in scheduler.FAILED for o in outcomes.values()) == 2
    assert sched.wait_running(timeout=10)
    deadline = time.monotonic() + 10
    while sched.failures < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sched.failures == 2
