"""`paperfeed serve` (web app plus scheduler) and `paperfeed worker` (the scheduler alone)."""

from __future__ import annotations

import time
from typing import Any

import typer

from paperfeed import logs
from paperfeed.cli.common import fail, open_app
from paperfeed.config import ConfigError, Settings


def _exit_on_sigterm() -> None:
    """Make SIGTERM a normal exit (status 0, atexit handlers run).

    uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the
    handler that was installed before it started: the default one would kill the
    process (status 143) before the embedded PostgreSQL is stopped.
    """
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Web worker processes."),
) -> None:
    """Run the web app (and the scheduler) on the embedded or configured database."""
    import threading

    import uvicorn

    # Start the database and migrate once, before workers fork and race for it.
    with open_app() as pf:
        logs.setup(pf.settings.log_level, pf.settings.log_format)
        pf.db.check_schema()
        try:
            _ = pf.secret_key
        except ConfigError as exc:
            fail(f"configuration error: {exc}", code=2)
    stop = threading.Event()
    if pf.settings.uses_embedded_database:
        from paperfeed.db import embedded

        embedded.watch(pf.home, stop)  # this process owns the server: restart it if it dies
    if pf.settings.scheduler:
        # One scheduler per `serve` (not per web worker); see docs/delivery.md.
        from paperfeed import scheduler

        scheduler.start_in_background(open_app())
    if pf.settings.metrics and workers > 1:
        _share_metrics(pf.home)
    _exit_on_sigterm()
    try:
        uvicorn.run(
            "paperfeed.web:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **proxy_options(pf.settings),
            # The app writes its own access log line (with the request id): see web/middleware.py.
            access_log=False,
            # uvicorn's own log set-up would replace ours (logs.setup).
            log_config=None,
            timeout_graceful_shutdown=10,
        )
    finally:
        stop.set()


def _share_metrics(home: Any) -> None:
    """Let the web workers sum their request metrics (prometheus_client's multiprocess mode).

    Each worker writes its samples to files in this directory and a scrape,
    whichever worker answers, reads them all. Emptied at every start: samples
    of the previous run's workers would otherwise be counted again.
    """
    import os
    import shutil

    folder = home / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's forwarded-header options from PAPERFEED_TRUSTED_PROXIES.

    uvicorn on its own believes X-Forwarded-For from any loopback client, so a
    local process or a pass-through proxy could pick its own address and walk
    around every per-IP limit. Only the configured proxies are believed.
    """
    trusted = ",".join(p.strip() for p in settings.trusted_proxies.split(",") if p.strip())
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or ""}


def worker(
    once: bool = typer.Option(False, "--once", help="Run the due jobs once and exit (for cron)."),
) -> None:
    """Run the scheduler alone: ingestion at PAPERFEED_INGEST_HOURS and the digest runs."""
    import signal

    from paperfeed import scheduler

    with open_app() as pf:
        logs.setup(pf.settings.log_level, pf.settings.log_format)
        sched = scheduler.Scheduler(pf, scheduler.default_jobs(pf))
        if once:
            outcomes = sched.run_once()
            for name, outcome in outcomes.items():
                typer.echo(f"{name}: {outcome}")
            failed = sum(outcome in scheduler.FAILED for outcome in outcomes.values())
            if failed:
                typer.echo(f"error: {failed} job(s) failed (see the log)", err=True)
                raise typer.Exit(1)
            return
        signal.signal(signal.SIGTERM, lambda *_: sched.stop())
        try:
            sched.run_forever()
        except KeyboardInterrupt:
            sched.stop()
        if not sched.wait_running(timeout=STOP_GRACE):
            # Each batch is its own transaction: what is cut off rolls back, and the
            # run's row is marked failed by the next worker that takes the job.
            typer.echo(
                f"stopping: abandoning jobs still running after {STOP_GRACE:.0f} s", err=True
            )
    # Job threads still running would hold the interpreter open at exit (minutes,
    # for a harvest): run the exit handlers (the embedded server's stop) and leave.
    import atexit
    import os

    atexit._run_exitfuncs()  # noqa: SLF001
    os._exit(0)


# Seconds `worker` waits on SIGTERM for running jobs before it abandons them.
STOP_GRACE = 5.0


def init() -> None:
    """Prepare a fresh install: start the database, apply migrations, export the search model.

    `serve` does the same by itself (the model in the background, search being
    keyword-only until it is ready); run this first to have it all done up front.
    """
    with open_app() as pf:
        typer.echo(f"database: schema version {pf.db.schema_version()}, data in {pf.home}")
        started = time.monotonic()
        model = pf.embedder()
        model.prepare()
        typer.echo(
            f"search model {model.name} ready in {time.monotonic() - started:.1f} s"
            f" (cached in {pf.model_dir})"
        )
