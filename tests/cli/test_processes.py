"""`serve` and `worker` as real processes: restarts, signals, exit codes.

- `serve` on the embedded database restarts PostgreSQL when it is killed, and
  on SIGTERM exits 0 with the embedded server stopped.
- `worker --once` exits non-zero when a job fails, including a failure around
  the job body (a read-only database refuses the run's bookkeeping row).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(check, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.3)


def _postmaster(home: Path) -> int | None:
    pid_file = home / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def test_serve_restarts_a_killed_embedded_server_and_stops_it_on_sigterm(tmp_path: Path) -> None:
    home, port = tmp_path / "home", _port()
    env = {**os.environ, "PAPERFEED_HOME": str(home), "PAPERFEED_SCHEDULER": "false"}
    env.pop("PAPERFEED_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200)
        first = _postmaster(home)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        _until(lambda: (_postmaster(home) or first) != first)  # a new server
        _until(lambda: httpx.get(f"{base}/api/search?q=x", timeout=10).status_code == 200)
        running = _postmaster(home)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        assert running is not None and _postmaster(home) is None
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_worker_once_exits_non_zero_when_jobs_fail(db_url: str, tmp_path: Path) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    env = {**os.environ, "PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_HOME": str(tmp_path)}
    env["PAPERFEED_SECRET_KEY"] = "test-secret-key"
    run = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "job(s) failed" in run.stderr
    assert "failed around its run" in run.stderr


def test_worker_stops_on_sigterm_while_a_job_is_stuck(db_url: str, tmp_path: Path) -> None:
    """Item 11: SIGTERM ends `worker` although its digest job cannot finish (it waits for a
    table lock this test holds until the end); the job's transaction rolls back."""
    env = {**os.environ, "PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_HOME": str(tmp_path)}
    env["PAPERFEED_SECRET_KEY"] = "test-secret-key"
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def job_waits_for_the_lock() -> bool:
                with psycopg.connect(db_url, autocommit=True) as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    ).fetchone()
                return row[0] > 0

            _until(job_waits_for_the_lock)
            proc.send_signal(signal.SIGTERM)
            # Still holding the lock: a worker that waited for its job would never exit.
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err[-2000:]
        assert "abandoning jobs still running" in err
        holder.rollback()
    with psycopg.connect(db_url) as conn:
        [(job, status)] = conn.execute(
            "SELECT job, status FROM scheduler_runs WHERE job = 'digest'"
        ).fetchall()
    # Left 'running' by the stopped worker; the next worker to take the job marks it failed.
    assert (job, status) == ("digest", "running")
