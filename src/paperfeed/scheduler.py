"""The scheduler: periodic ingestion and digest runs, safe with several instances.

Each job has slots: the ingest jobs one per configured UTC hour
(PAPERFEED_INGEST_HOURS), the digest job one every DIGEST_EVERY minutes (the
digest run itself decides which subscriptions are due at their own hour and
time zone, and sends retries whose backoff has passed). Three upkeep jobs
follow ingestion every UPKEEP_EVERY minutes: fetch the arXiv papers users
submitted, embed papers without a vector (at most EMBED_BUDGET seconds per
slot, so a large back-fill spreads over many slots instead of one long run)
and give newly embedded papers their topic. Such a job names the jobs it
builds on (`after`) and waits ("waiting") until each of their current slots
has finished or failed on some instance. A job runs its latest slot at most
once across every instance:

- the instance first takes the job's advisory lock (pg_try_advisory_lock), so
  a long run is never overlapped by another instance's next slot, and
- inserts (job, slot) into scheduler_runs, which is UNIQUE: a slot that another
  instance has run (or is running) is skipped.

Every run leaves a row: running → finished (with a summary) or failed (with
the error). A row still 'running' whose job lock is free belonged to an
instance that died; it is marked failed when the job next runs. A failed ingest
slot is tried again RETRY_AFTER seconds after it failed, at most
INGEST_RETRIES times, as slot '<slot>#retry<n>' (an arXiv or HF outage
rarely lasts long, and the next scheduled hour may be 12 hours away). A missed slot
(all instances down) is not replayed: the next slot catches up, since ingest
is incremental and the digest run always looks at each subscription's latest
due period.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from paperfeed import catalogue
from paperfeed.app import Paperfeed

log = logging.getLogger(__name__)

JOB_LOCK = 7_240_005
DIGEST_EVERY = 5  # minutes
UPKEEP_EVERY = 10  # minutes
EMBED_BUDGET = 420.0  # seconds of embedding per slot: well inside UPKEEP_EVERY
SUBMISSIONS_PER_RUN = 100
TICK = 30.0  # seconds between looks at the clock
FIRST_MAP_PAPERS = 20  # embedded papers before the topics job draws the first map
INGEST_RETRIES = 2  # further attempts of a failed ingest slot
RETRY_AFTER = 900.0  # seconds after a failed attempt before the next one


@dataclass(frozen=True)
class Job:
    """A named periodic task: which slot is current, and what to do in it."""

    name: str
    slot: Callable[[datetime], str | None]
    run: Callable[[Paperfeed, datetime], dict[str, Any]]
    after: tuple[Job, ...] = ()  # jobs whose current slot must be settled before this runs
    retries: int = 0  # further attempts of a failed slot, RETRY_AFTER s apart


def hourly_slot(hours: Iterable[int]) -> Callable[[datetime], str | None]:
    """Slots at these UTC hours: the latest one at or before `now` ('2026-11-23T13')."""
    wanted = sorted(set(hours))

    def slot(now: datetime) -> str | None:
        if not wanted:
            return None
        now = now.astimezone(UTC)
        earlier = [h for h in wanted if h <= now.hour]
        day = now.date() if earlier else now.date() - timedelta(days=1)
        hour = earlier[-1] if earlier else wanted[-1]
        return f"{day.isoformat()}T{hour:02d}"

    return slot


def minute_slot(every: int) -> Callable[[datetime], str]:
    """Slots every `every` minutes ('2026-11-23T14:55')."""

    def slot(now: datetime) -> str:
        now = now.astimezone(UTC)
        return now.replace(minute=now.minute - now.minute % every).strftime("%Y-%m-%dT%H:%M")

    return slot


def parse_hours(text: str) -> list[int]:
    """'1,13' → [1, 13]; ValueError for anything that is not an hour."""
    hours = [int(part) for part in text.replace(" ", "").split(",") if part]
    if any(not 0 <= h <= 23 for h in hours):
        raise ValueError(f"hours must be 0-23, got {text!r}")
    return hours


def arxiv_job(set_spec: str, hours: list[int], client_factory: Callable[[], Any]) -> Job:
    """Incremental OAI-PMH harvest of one arXiv set (from the last harvest's date)."""

    def run(pf: Paperfeed, now: datetime) -> dict[str, Any]:
        from paperfeed.sources import arxiv

        key = f"harvest:{set_spec}"  # the same state as `paperfeed ingest arxiv --set`
        since = catalogue.get_state(pf.db, arxiv.SOURCE, key)
        client = client_factory()
        items = client.harvest(set_spec, date.fromisoformat(since) if since else None)
        report = catalogue.ingest(pf.db, items, source=arxiv.SOURCE, origin=f"oai:{set_spec}")
        # Advance only after a complete harvest (harvest raises if it was cut short).
        if client.response_date is not None:
            catalogue.set_state(pf.db, arxiv.SOURCE, key, client.response_date.date().isoformat())
        return {"read": report.read, "new": report.new, "rejected": report.rejected}

    return Job(f"ingest:arxiv:{set_spec}", hourly_slot(hours), run, retries=INGEST_RETRIES)


def hf_daily_job(hours: list[int], fetch: Callable[[date], Any]) -> Job:
    """Today's and yesterday's Hugging Face daily lists (upvotes keep changing for a day)."""

    def run(pf: Paperfeed, now: datetime) -> dict[str, Any]:
        from paperfeed.sources import hf_daily

        totals = {"read": 0, "new": 0, "rejected": 0}
        today = now.astimezone(UTC).date()
        for day in (today - timedelta(days=1), today):
            report = catalogue.ingest(
                pf.db, fetch(day), source=hf_daily.SOURCE, origin=f"daily:{day}"
            )
            for k in totals:
                totals[k] += getattr(report, k)
        return totals

    return Job("ingest:hf_daily", hourly_slot(hours), run, retries=INGEST_RETRIES)


def digest_job(runner: Callable[[Paperfeed, datetime], Any] | None = None) -> Job:
    """Queue the due digests and send the outbox."""

    def run(pf: Paperfeed, now: datetime) -> dict[str, Any]:
        from paperfeed.delivery import digest

        result = runner(pf, now) if runner else digest.run(pf, now=now)
        q, s = result.queued, result.sent
        return {
            "due": q.due,
            "queued": q.queued,
            "empty": q.empty,
            "sent": s.sent,
            "retried": s.retried,
            "failed": s.failed,
            "uncertain": s.uncertain,
        }

    return Job("digest", minute_slot(DIGEST_EVERY), run)


def submissions_job(client_factory: Callable[[], Any], after: tuple[Job, ...] = ()) -> Job:
    """Fetch the arXiv papers users submitted by id (catalogue.submissions.fetch_pending)."""

    def run(pf: Paperfeed, now: datetime) -> dict[str, Any]:
        from paperfeed.catalogue.submissions import fetch_pending

        return fetch_pending(
            pf.db,
            client_factory(),
            limit=SUBMISSIONS_PER_RUN,
            review_days=pf.settings.review_new_submissions,
        )

    return Job("submissions", minute_slot(UPKEEP_EVERY), run, after)


class _BudgetSpent(Exception):
    """Raised between two committed batches: this slot's share of the back-fill is done."""


def embed_job(
    load_embedder: Callable[[], Any],
    *,
    budget_seconds: float = EMBED_BUDGET,
    max_papers: int | None = None,
    batch_size: int | None = None,
    after: tuple[Job, ...] = (),
) -> Job:
    """Embed pending papers, stopping after a batch once the time (or paper) budget is spent."""
    loaded: list[Any] = []  # the model, loaded on the first slot with work and then kept

    def run(pf: Paperfeed, now: datetime) -> dict[str, Any]:
        from paperfeed.catalogue import comments, derive
        from paperfeed.index import backfill, lexical, phrases

        # Keyword search's next block index, made before any paper id reaches it.
        lexical.ensure_blocks(pf.db.url)
        derive.sync(pf.db)  # authors and links of papers no import has derived yet
        with pf.db.transaction() as conn:  # HTML of comments older than the renderer
            comments.render_stale(conn)
        if not backfill.has_pending(pf.db, pf.settings.embedding_model) and not (
            phrases.count_pending(pf.db)
        ):
            return {"embedded": 0, "pending": 0}
        if not loaded:
            loaded.append(load_embedder())
        embedder = loaded[0]
        deadline = time.monotonic() + budget_seconds
        done = 0

        def progress(count: int) -> None:
            # Called after each batch has committed, so stopping here loses nothing.
            nonlocal done
            done += count
            if time.monotonic() >= deadline or (max_papers is not None and done >= max_papers):
                raise _BudgetSpent

        options = {"batch_size": batch_size} if batch_size else {}
        with contextlib.suppress(_BudgetSpent):  # the rest waits for the next slot
            backfill.embed_pending(pf.db, embedder, progress=progress, **options)
        summary = {"embedded": done, "pending": backfill.count_pending(pf.db, embedder.name)}
        # Key phrases and one-line summaries with the same model, in what is left of the budget.
        embedded, done = done, 0
        if time.monotonic() < deadline and (max_papers is None or embedded < max_papers):
            with contextlib.suppress(_BudgetSpent):
                phrases.summarise_pending(pf.db, embedder, progress=progress, **options)
            summary["summarised"] = done
        return summary

    return Job("embed", minute_slot(UPKEEP_EVERY), run, after)


def topics_job(after: tuple[Job, ...] = ()) -> Job:
    """Place newly embedded papers on the topic map (topics.assign_new; no re-clustering)."""

    def run(pf: Paperfeed, now: datetime) -> dict[str, Any]:
        from paperfeed.ranking import topics

        built = topics.build_first(pf.db, FIRST_MAP_PAPERS)
        if built is not None:  # a fresh install: the whole catalogue was placed
            return {"built": built}
        return {"assigned": topics.assign_new(pf.db)}

    return Job("topics", minute_slot(UPKEEP_EVERY), run, after)


def default_jobs(
    pf: Paperfeed,
    *,
    arxiv_client: Callable[[], Any] | None = None,
    hf_fetch: Callable[[date], Any] | None = None,
    load_embedder: Callable[[], Any] | None = None,
) -> list[Job]:
    """The jobs the settings ask for: arXiv sets, HF daily; always the digest and the upkeep
    after ingestion (submissions, then embedding, then topics)."""
    settings = pf.settings
    hours = parse_hours(settings.ingest_hours)
    jobs = [digest_job()]
    if arxiv_client is None:
        from paperfeed.sources.arxiv import ArxivClient

        arxiv_client = ArxivClient
    for set_spec in (s.strip() for s in settings.arxiv_sets.split(",")):
        if set_spec:
            jobs.append(arxiv_job(set_spec, hours, arxiv_client))
    if settings.hf_daily:
        if hf_fetch is None:
            from paperfeed.sources.hf_daily import fetch as hf_fetch
        jobs.append(hf_daily_job(hours, hf_fetch))
    if load_embedder is None:

        def load_embedder() -> Any:
            return pf.embedder()

    ingest = tuple(j for j in jobs if j.name.startswith("ingest:"))
    submissions = submissions_job(arxiv_client, after=ingest)
    embed = embed_job(load_embedder, after=(*ingest, submissions))
    return [*jobs, submissions, embed, topics_job(after=(embed,))]


def instance_name() -> str:
    """host:pid, recorded with every run."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(pf: Paperfeed, job: Job, now: datetime, instance: str) -> str:
    """Run the job's current slot here unless it is done or running elsewhere; say what happened."""
    slot = job.slot(now)
    if slot is None:
        return "no slot"
    if not all(_settled(pf, before, now) for before in job.after):
        return "waiting"
    with pf.db.connection() as lock:
        got = lock.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS ok", (JOB_LOCK, job.name)
        ).fetchone()
        if not got["ok"]:
            return "busy"
        try:
            if job.retries:
                slot = _attempt_slot(lock, job, slot)
            with pf.db.transaction() as conn:
                # We hold the job's lock, so any 'running' row of it lost its instance.
                conn.execute(
                    "UPDATE scheduler_runs SET status = 'failed', finished_at = now(),"
                    " message = 'instance stopped during the run'"
                    " WHERE job = %s AND status = 'running'",
                    (job.name,),
                )
                row = conn.execute(
                    "INSERT INTO scheduler_runs (job, slot, instance) VALUES (%s, %s, %s)"
                    " ON CONFLICT (job, slot) DO NOTHING RETURNING id",
                    (job.name, slot, instance),
                ).fetchone()
            if row is None:
                return "done"
            try:
                summary = job.run(pf, now)
            except Exception as exc:
                log.exception("scheduler job %s (%s) failed", job.name, slot)
                _finish(pf, row["id"], "failed", {}, f"{type(exc).__name__}: {exc}"[:2000])
                return "failed"
            _finish(pf, row["id"], "finished", summary, None)
            return "finished"
        finally:
            lock.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (JOB_LOCK, job.name))


def _attempt_slot(conn: Any, job: Job, slot: str) -> str:
    """The slot to record this attempt under: a retry's own slot once the latest attempt
    failed RETRY_AFTER seconds ago (by the database's clock) and retries are left."""
    rows = conn.execute(
        "SELECT status, finished_at < now() - make_interval(secs => %s) AS waited"
        " FROM scheduler_runs WHERE job = %s AND (slot = %s OR slot LIKE %s) ORDER BY id DESC",
        (RETRY_AFTER, job.name, slot, slot + "#retry%"),
    ).fetchall()
    if rows and rows[0]["status"] == "failed" and rows[0]["waited"] and len(rows) <= job.retries:
        return f"{slot}#retry{len(rows)}"
    return slot  # a first attempt, or one that conflicts and is skipped


def _settled(pf: Paperfeed, job: Job, now: datetime) -> bool:
    """Whether the job's current slot has run to its end (finished or failed) anywhere."""
    slot = job.slot(now)
    if slot is None:
        return True
    with pf.db.connection() as conn:
        row = conn.execute(
            "SELECT status FROM scheduler_runs WHERE job = %s AND slot = %s", (job.name, slot)
        ).fetchone()
    return row is not None and row["status"] in ("finished", "failed")


def _finish(pf: Paperfeed, run_id: int, status: str, summary: dict, message: str | None) -> None:
    with pf.db.transaction() as conn:
        conn.execute(
            "UPDATE scheduler_runs SET status = %s, finished_at = now(), summary = %s,"
            " message = %s WHERE id = %s",
            (status, Jsonb(summary), message, run_id),
        )


class Scheduler:
    """Runs due jobs, each in its own thread so a long harvest never delays a digest."""

    def __init__(self, pf: Paperfeed, jobs: list[Job], *, instance: str | None = None) -> None:
        self.pf = pf
        self.jobs = jobs
        self.instance = instance or instance_name()
        self._pool = ThreadPoolExecutor(max_workers=max(len(jobs), 1), thread_name_prefix="job")
        self._running: dict[str, Future] = {}
        self.stopped = threading.Event()
        # Runs that failed (in the job body, or around it: a read-only database,
        # a lost connection) since this scheduler started. Job threads settle
        # concurrently, and `+=` on an attribute is not atomic.
        self.failures = 0
        self._counting = threading.Lock()

    def tick(self, now: datetime | None = None) -> list[Future]:
        """Start every job whose previous run in this process has finished."""
        now = now or datetime.now(UTC)
        started = []
        for job in self.jobs:
            running = self._running.get(job.name)
            if running is not None and not running.done():
                continue
            future = self._pool.submit(run_job, self.pf, job, now, self.instance)
            future.add_done_callback(lambda f, name=job.name: self._settle(name, f))
            self._running[job.name] = future
            started.append(future)
        return started

    def _settle(self, name: str, future: Future) -> None:
        """Count (and log) every failure, including one raised outside the job body."""
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.error("scheduler job %s failed around its run: %s", name, exc, exc_info=exc)
        if outcome(future) in FAILED:
            with self._counting:
                self.failures += 1

    def run_once(self, now: datetime | None = None) -> dict[str, str]:
        """Run each job's current slot once and wait for all: every job's outcome.

        The outcomes are read from the futures, not from `failures`: `wait` returns
        as soon as the last future is done, which is before its done-callback
        (`_settle`) has run, so the counter may not have caught up yet.
        """
        futures = dict(zip((j.name for j in self.jobs), self.tick(now), strict=True))
        wait(futures.values())
        return {name: outcome(future) for name, future in futures.items()}

    def wait_running(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the running jobs; True when none is left running."""
        pending = [f for f in self._running.values() if not f.done()]
        done, not_done = wait(pending, timeout=timeout) if pending else (set(), set())
        return not not_done

    def run_forever(self, tick: float = TICK) -> None:
        """Tick until `stop()` is called."""
        log.info("scheduler %s: jobs %s", self.instance, ", ".join(j.name for j in self.jobs))
        while not self.stopped.is_set():
            try:
                self.tick()
            except Exception:  # a failing tick (database restarting …) must not end the loop
                log.exception("scheduler tick failed")
            self.stopped.wait(tick)
        # Running jobs are left to the caller (`worker` waits a few seconds, then
        # exits: each batch is its own transaction, so an abandoned one rolls back).
        self._pool.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        self.stopped.set()


# The outcomes of a job's run that count as a failure: its body raised ("failed"),
# or something around it did ("error": a read-only database, a lost connection).
FAILED = ("failed", "error")


def outcome(future: Future) -> str:
    """What a finished `run_job` future says: its result, or "error" if it raised."""
    return "error" if future.exception() is not None else future.result()


def start_in_background(pf: Paperfeed) -> Scheduler:
    """The scheduler of `paperfeed serve`: a daemon thread beside the web server."""
    scheduler = Scheduler(pf, default_jobs(pf))
    threading.Thread(target=scheduler.run_forever, name="scheduler", daemon=True).start()
    return scheduler
