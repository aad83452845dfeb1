"""`paperfeed serve` (web app plus scheduler) and `paperfeed worker` (the scheduler alone)."""

from __future__ import annotations

import time

import typer

from paperfeed import logs
from paperfeed.cli.common import open_app


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Web worker processes."),
) -> None:
    """Run the web app (and the scheduler) on the embedded or configured database."""
    import uvicorn

    # Start the database and migrate once, before workers fork and race for it.
    with open_app() as pf:
        logs.setup(pf.settings.log_level, pf.settings.log_format)
        pf.db.check_schema()
        _ = pf.secret_key
    if pf.settings.scheduler:
        # One scheduler per `serve` (not per web worker); see docs/delivery.md.
        from paperfeed import scheduler

        scheduler.start_in_background(open_app())
    uvicorn.run(
        "paperfeed.web:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The app writes its own access log line (with the request id): see web/middleware.py.
        access_log=False,
    )


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
            for future in sched.tick():
                typer.echo(future.result())
            return
        signal.signal(signal.SIGTERM, lambda *_: sched.stop())
        try:
            sched.run_forever()
        except KeyboardInterrupt:
            sched.stop()


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
