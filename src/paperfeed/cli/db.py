"""`paperfeed db …` and `paperfeed config`: where the database is, its schema, the settings.

These commands must work on any schema (older, current, newer, or altered),
so they open the database without the start-up schema check every other
command makes, and report instead of refusing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from paperfeed.cli.common import command_group, fail, print_table, settings_from_env

if TYPE_CHECKING:
    from paperfeed.db import Database

db_app = command_group(help="Database status, checks and migrations.")


@contextmanager
def _database() -> Iterator[Database]:
    """The configured (or embedded) database, schema unchecked; a clear line if unreachable."""
    import psycopg

    from paperfeed.db import CONNECT_TIMEOUT, Database, connection_problem, resolve_url

    settings = settings_from_env()
    url = resolve_url(settings)
    try:
        # A direct connection first: its error says why (the pool's only says it timed out).
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
    except psycopg.Error as exc:
        fail(connection_problem(exc, url))
    db = Database(
        url, pool_size=2, read_urls=settings.read_urls, max_lag=settings.read_max_lag
    )
    try:
        yield db
    finally:
        db.close()


@db_app.command("status")
def db_status() -> None:
    """Show where the database is, its schema version, its memory and the latest imports."""
    from paperfeed.db import memory

    settings = settings_from_env()
    where = (
        "embedded, in " + str(settings.home / "pgdata")
        if settings.uses_embedded_database
        else "external"
    )
    with _database() as db:
        state = db.schema_state()
        typer.echo(f"database: {where}")
        note = ""
        if state.mismatched:
            note = " (CHECKSUM MISMATCH: " + ", ".join(m[0] for m in state.mismatched) + ")"
        elif state.newer:
            note = " (newer than this paperfeed: upgrade paperfeed)"
        elif state.pending or state.unchecked:
            note = " (migration pending)"
        typer.echo(f"schema version: {state.applied} of {state.latest}{note}")
        _replication_status(db)
        with db.pool.connection() as conn:
            typer.echo(memory.describe(memory.server_memory(conn)))
        if not state.applied:
            typer.echo("papers: 0")
            return
        with db.connection() as conn:
            papers = conn.execute("SELECT count(*) AS n FROM papers").fetchone()["n"]
            runs = conn.execute(
                "SELECT id, source, origin, status, read, new, merged, rejected, started_at"
                " FROM ingest_runs ORDER BY id DESC LIMIT 10"
            ).fetchall()
        typer.echo(f"papers: {papers}")
        columns = ("id", "source", "origin", "status", "read", "new", "merged", "rejected")
        if runs:
            print_table(
                (
                    "run",
                    "source",
                    "origin",
                    "status",
                    "read",
                    "new",
                    "merged",
                    "rejected",
                    "started",
                ),
                [
                    [*(str(r[k]) for k in columns), r["started_at"].strftime("%Y-%m-%d %H:%M")]
                    for r in runs
                ],
            )


def _replication_status(db: Database) -> None:
    """Whether this database is a standby, and each read replica's state and lag."""
    if db.read_only():
        typer.echo("read-only: this database is a standby (writes need the primary)")
    if db.replicas is None:
        return
    rows = []
    for row in db.replicas.status():
        lag = row["lag_seconds"]
        rows.append(
            [
                str(row["replica"]),
                str(row["state"]),
                "-" if lag is None else f"{lag:.1f}",
                str(row["replay_lsn"] or "-"),
            ]
        )
    print_table(("read replica", "state", "lag s", "replayed to"), rows)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations (refuses on a newer or altered schema)."""
    from paperfeed.db import SchemaError

    with _database() as db:
        try:
            applied = db.migrate()
        except SchemaError as exc:
            fail(str(exc))
        typer.echo("applied: " + ", ".join(applied) if applied else "schema is up to date")


@db_app.command("check")
def db_check() -> None:
    """Check the server, pgvector, the schema and the grants; exit 1 on any problem."""
    from paperfeed.db import check, resolve_url

    results = check.run(resolve_url(settings_from_env()))
    for result in results:
        typer.echo(f"{'ok  ' if result.ok else 'FAIL'} {result.name}: {result.detail}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@db_app.command("prewarm")
def db_prewarm() -> None:
    """Read the papers table and its indexes into memory (after a restart or a bulk import).

    Until their pages are in memory, searches wait on the disk for each one.
    """
    from paperfeed.cli.common import progress_bar
    from paperfeed.db import embedded, prewarm

    with _database() as db, db.connection() as conn:
        try:
            prewarm.ensure_extension(conn)
        except prewarm.PrewarmUnavailable as exc:
            fail(str(exc))
        block = int(conn.execute("SELECT current_setting('block_size') AS b").fetchone()["b"])
        found = prewarm.relations(conn)
        rows, size = [], 0
        with progress_bar() as bar:
            task = bar.add_task("prewarm", total=sum(r.blocks for r in found))
            for relation in found:
                bar.update(task, description=relation.name)
                blocks = prewarm.read(conn, relation, lambda n: bar.advance(task, n))
                rows.append((relation.name, relation.kind, f"{blocks * block / 2**20:,.1f}"))
                size += blocks * block
    print_table(["relation", "kind", "MB read"], rows)
    line = f"read {size / 2**30:.2f} GB into the page cache"
    memory = embedded.memory_bytes()
    if settings_from_env().uses_embedded_database and size > 0.8 * memory:
        # The server runs here: its page cache is this machine's memory.
        line += f"; this machine has {memory / 2**30:.1f} GB of memory: not all of it stays"
    typer.echo(line)


def show_config() -> None:
    """Show every setting and its current value (secrets masked)."""
    print_table(("variable", "value", "meaning"), settings_from_env().describe())
