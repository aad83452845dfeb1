"""Prometheus metrics at `/metrics`, only when PAPERFEED_METRICS is on.

What is measured where:

- request latency by route template (`/papers/{paper_id}`, never the raw path,
  so a crawler cannot grow the label set), method and status: a histogram kept
  by `RequestMetrics`, the innermost middleware (the router has put the matched
  route into the scope by the time the response starts);
- the connection pools (primary and each read replica): size, idle, waiting,
  and since start the requests that had to wait, the time they waited and the
  ones that gave up: psycopg_pool's `get_stats()` of the process answering the
  scrape;
- read replica lag and health: what the replica checks last measured (refreshed
  when older than a few seconds, with a 2 s connect timeout);
- from the database, at scrape time, so every web node and the separate worker
  report the same numbers: scheduler runs and failures per job in the last 24
  hours and the duration of each job's last run, papers pending embedding, the
  digest outbox by in-flight state, and the last successful ingest per source.
  They run in one read-only transaction with a statement timeout
  (QUERY_TIMEOUT_MS), on indexed or small tables; a query that fails or runs out
  of time drops its families from that scrape and sets
  `paperfeed_metrics_collector_errors` rather than failing the scrape.

Several web workers (`serve --workers N`): `serve` points
PROMETHEUS_MULTIPROC_DIR at a fresh directory in HOME before the workers start,
so the request histogram is summed over every worker whichever one answers;
pool numbers are those of the answering worker (labelled with its pid).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.app import Paperfeed

log = logging.getLogger(__name__)

QUERY_TIMEOUT_MS = 2000
PATH = "/metrics"

REQUEST_SECONDS = Histogram(
    "paperfeed_http_request_duration_seconds",
    "Time to answer a request, by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def route_template(scope: Scope) -> str:
    """The matched route's path template; one label for every unmatched path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    return "/static" if scope.get("path", "").startswith("/static/") else "unmatched"


class RequestMetrics:
    """Times each request and records it under its route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            REQUEST_SECONDS.labels(
                route_template(scope), scope["method"], str(status["code"])
            ).observe(time.perf_counter() - started)


class PaperfeedCollector(Collector):
    """Pool, replica and database-derived metrics, computed when scraped."""

    def __init__(self, pf: Paperfeed) -> None:
        self.pf = pf

    def collect(self) -> Iterator[Metric]:
        yield from self._pools()
        yield from self._replicas()
        errors = GaugeMetricFamily(
            "paperfeed_metrics_collector_errors",
            "Database queries of this scrape that failed or ran out of time (1 per query).",
            labels=["query"],
        )
        for name, query in _QUERIES:
            try:
                yield from query(self.pf)
            except Exception as exc:  # one slow or broken query must not fail the scrape
                log.warning("metrics query %s failed: %s", name, exc)
                errors.add_metric([name], 1)
        yield errors

    def _pools(self) -> Iterator[Metric]:
        pid = str(os.getpid())
        pools = [("primary", self.pf.db.pool)]
        if self.pf.db.replicas is not None:
            pools += [(m.name, m.pool) for m in self.pf.db.replicas.members]
        gauges = {
            "pool_size": ("paperfeed_db_pool_connections", "Open connections."),
            "pool_available": ("paperfeed_db_pool_idle", "Idle connections."),
            "requests_waiting": ("paperfeed_db_pool_waiting", "Callers waiting right now."),
            "pool_max": ("paperfeed_db_pool_max", "Most connections the pool may open."),
        }
        counters = {
            "requests_queued": ("paperfeed_db_pool_waits", "Checkouts that had to wait."),
            "requests_errors": ("paperfeed_db_pool_timeouts", "Checkouts that gave up."),
            "requests_num": ("paperfeed_db_pool_checkouts", "Connection checkouts."),
        }
        families: dict[str, Any] = {}
        for key, (name, doc) in gauges.items():
            families[key] = GaugeMetricFamily(name, doc, labels=["pool", "pid"])
        for key, (name, doc) in counters.items():
            families[key] = CounterMetricFamily(name, doc, labels=["pool", "pid"])
        wait = CounterMetricFamily(
            "paperfeed_db_pool_wait_seconds",
            "Time spent waiting for a connection.",
            labels=["pool", "pid"],
        )
        for label, pool in pools:
            stats = pool.get_stats()
            for key, family in families.items():
                family.add_metric([label, pid], stats.get(key, 0))
            wait.add_metric([label, pid], stats.get("requests_wait_ms", 0) / 1000)
        yield from families.values()
        yield wait

    def _replicas(self) -> Iterator[Metric]:
        replicas = self.pf.db.replicas
        if replicas is None:
            return
        lag = GaugeMetricFamily(
            "paperfeed_replica_lag_seconds",
            "Replay lag of a read replica behind the primary (0: caught up).",
            labels=["replica"],
        )
        up = GaugeMetricFamily(
            "paperfeed_replica_up",
            "1 when a read replica answers as a standby.",
            labels=["replica"],
        )
        for member in replicas.members:
            replicas.check(member)  # cached for a few seconds; 2 s connect timeout
            up.add_metric([member.name], 1 if member.healthy else 0)
            if member.healthy:
                lag.add_metric([member.name], member.lag_seconds)
        yield lag
        yield up


def _query(pf: Paperfeed, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    """One bounded read: its own read-only transaction with a statement timeout."""
    with pf.db.transaction() as conn:
        conn.execute(f"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {QUERY_TIMEOUT_MS}")
        return conn.execute(sql, params).fetchall()


def _jobs(pf: Paperfeed) -> Iterator[Metric]:
    runs = GaugeMetricFamily(
        "paperfeed_scheduler_runs_24h",
        "Scheduler runs started in the last 24 hours, by job and outcome.",
        labels=["job", "status"],
    )
    for row in _query(
        pf,
        "SELECT job, status, count(*) AS n FROM scheduler_runs"
        " WHERE started_at > now() - interval '24 hours' GROUP BY job, status",
    ):
        runs.add_metric([row["job"], row["status"]], row["n"])
    yield runs
    duration = GaugeMetricFamily(
        "paperfeed_scheduler_last_run_seconds",
        "Duration of each job's last finished or failed run.",
        labels=["job", "status"],
    )
    ended = GaugeMetricFamily(
        "paperfeed_scheduler_last_run_timestamp_seconds",
        "When each job's last run ended (Unix time).",
        labels=["job", "status"],
    )
    for row in _query(
        pf,
        "SELECT DISTINCT ON (job) job, status, extract(epoch FROM finished_at) AS ended,"
        " extract(epoch FROM finished_at - started_at) AS took FROM scheduler_runs"
        " WHERE started_at > now() - interval '7 days' AND finished_at IS NOT NULL"
        " ORDER BY job, started_at DESC",
    ):
        duration.add_metric([row["job"], row["status"]], float(row["took"]))
        ended.add_metric([row["job"], row["status"]], float(row["ended"]))
    yield duration
    yield ended


def _pending_embedding(pf: Paperfeed) -> Iterator[Metric]:
    from paperfeed.index.backfill import PENDING

    [row] = _query(
        pf,
        "SELECT count(*) AS n FROM papers WHERE " + PENDING,  # noqa: S608 - constant
        {"model": pf.settings.embedding_model},  # type: ignore[arg-type]
    )
    yield GaugeMetricFamily(
        "paperfeed_papers_pending_embedding",
        "Papers without a vector from the configured model.",
        value=row["n"],
    )


def _outbox(pf: Paperfeed) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "paperfeed_outbox_messages",
        "Digest messages not yet settled, by state (pending, sending, committing).",
        labels=["state"],
    )
    counts = {"pending": 0, "sending": 0, "committing": 0}
    # The partial index digest_outbox_todo_idx holds exactly these rows.
    for row in _query(
        pf,
        "SELECT status, count(*) AS n FROM digest_outbox"
        " WHERE status IN ('pending', 'sending', 'committing') GROUP BY status",
    ):
        counts[row["status"]] = row["n"]
    for state, n in counts.items():
        depth.add_metric([state], n)
    yield depth


def _ingest(pf: Paperfeed) -> Iterator[Metric]:
    last = GaugeMetricFamily(
        "paperfeed_ingest_last_success_timestamp_seconds",
        "When each source's last successful ingest run finished (Unix time).",
        labels=["source"],
    )
    for row in _query(
        pf,
        "SELECT source, extract(epoch FROM max(finished_at)) AS at FROM ingest_runs"
        " WHERE status = 'finished' GROUP BY source",
    ):
        last.add_metric([row["source"]], float(row["at"]))
    yield last


_QUERIES = (
    ("scheduler", _jobs),
    ("pending_embedding", _pending_embedding),
    ("outbox", _outbox),
    ("ingest", _ingest),
)


def registry_for(pf: Paperfeed) -> CollectorRegistry:
    """What one scrape reports: the request histogram (of every worker, when several
    share PROMETHEUS_MULTIPROC_DIR) and this process's view of the rest."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(PaperfeedCollector(pf))
    return registry


def authorised(request: Request, token: str) -> bool:
    """No token configured: anyone who reaches /metrics; else `Authorization: Bearer <token>`."""
    if not token:
        return True
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def install(web: Any, pf: Paperfeed) -> None:
    """Add the /metrics route and the request timer (only called when metrics are on)."""
    registry = registry_for(pf)
    token = pf.settings.metrics_token

    @web.get(PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        if not authorised(request, token):
            return Response(
                "metrics need the configured bearer token\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"},
                media_type="text/plain",
            )
        return Response(
            generate_latest(registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )

    web.add_middleware(RequestMetrics)
