"""Connections, transactions and the schema version.

One `Database` per process wraps a psycopg connection pool. Work happens in
`db.transaction()` blocks: one request or one ingest batch is one transaction,
committed when the block exits and rolled back on any exception, so a crash
never leaves half a batch behind. Application code never calls commit itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path

import psycopg
from pgvector.psycopg import register_vector
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from paperfeed.config import Settings

log = logging.getLogger(__name__)

# Serialises migrations across every process that starts at the same time
# (several web workers, a scheduler and a CLI import may all start together).
MIGRATION_LOCK = 7_240_001


class SchemaError(RuntimeError):
    """The database schema is older or newer than this paperfeed."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration, in order; the list only grows at the end."""
    folder = resources.files("paperfeed.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        version = int(name.split("_", 1)[0])
        found.append((version, name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise SchemaError(f"migration files must be numbered 1..N without gaps, got {versions}")
    return found


def _configure(conn: psycopg.Connection) -> None:
    # pgvector's type is registered when the extension exists (after migration 1).
    with suppress(psycopg.ProgrammingError):
        register_vector(conn)
    # Autocommit between explicit transactions: a pooled connection never idles
    # inside a transaction that would hold locks or snapshot old rows.
    conn.autocommit = True


class Database:
    """A pool of connections to one PostgreSQL database."""

    def __init__(self, url: str, *, pool_size: int = 10, name: str = "paperfeed") -> None:
        self.url = url
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"row_factory": dict_row},
            configure=_configure,
            name=name,
            open=True,
        )

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in autocommit mode, for reads that need no transaction."""
        with self.pool.connection() as conn:
            yield conn

    def dedicated_connection(self) -> psycopg.Connection:
        """A connection of its own, outside the pool, set up like the pool's ones.

        For work that needs several connections at once whatever the pool size
        (an import's parallel writers); the caller closes it.
        """
        conn = psycopg.connect(self.url, row_factory=dict_row)
        _configure(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside one transaction, committed on normal exit."""
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    def schema_version(self) -> int:
        """The number of migrations applied (0 on an empty database)."""
        with self.connection() as conn:
            return current_version(conn)

    def check_schema(self) -> None:
        """Refuse to run on a schema that is not exactly this code's."""
        have, want = self.schema_version(), len(migrations())
        if have < want:
            raise SchemaError(
                f"database schema is at version {have}, this paperfeed needs {want}: "
                "run `paperfeed db migrate` (or set PAPERFEED_AUTO_MIGRATE=true)"
            )
        if have > want:
            raise SchemaError(
                f"database schema is at version {have}, newer than this paperfeed ({want}): "
                "upgrade paperfeed"
            )

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; return their names."""
        applied = []
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                have = current_version(conn)
                for version, name, sql in migrations():
                    if version <= have:
                        continue
                    with conn.transaction():
                        conn.execute(sql.encode("utf-8"))
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (version, name),
                        )
                    log.info("applied migration %s", name)
                    applied.append(name)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        if applied:
            # Connections opened before the vector extension existed lack its type.
            self.pool.close()
            self.pool = ConnectionPool(
                self.url,
                min_size=1,
                max_size=self.pool.max_size,
                kwargs={"row_factory": dict_row},
                configure=_configure,
                open=True,
            )
        return applied


def current_version(conn: psycopg.Connection) -> int:
    """Highest applied migration, or 0 when the bookkeeping table does not exist yet."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS e").fetchone()
    if not _first(exists):
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").fetchone()
    return int(_first(row))


def snapshot(conn: psycopg.Connection) -> str:
    """The server's current MVCC snapshot, as text ("xmin:xmax:in-progress xids").

    Two reads under equal snapshots see exactly the same committed data, and any
    commit anywhere gives a new one: a page rendered under a snapshot can be
    served again for as long as the snapshot stays the same.
    """
    return str(_first(conn.execute("SELECT pg_current_snapshot()::text AS s").fetchone()))


def _first(row: object) -> object:
    if isinstance(row, dict):
        return next(iter(row.values()))
    return row[0]  # type: ignore[index]


def resolve_url(settings: Settings) -> str:
    """The database URL: the configured one, or the embedded server's (started on demand)."""
    if settings.database_url:
        return settings.database_url
    from paperfeed.db import embedded

    return embedded.start(Path(settings.home))


def open_database(settings: Settings, *, migrate: bool | None = None) -> Database:
    """Connect (starting the embedded server if needed) and bring the schema up to date."""
    db = Database(resolve_url(settings), pool_size=settings.pool_size)
    if settings.auto_migrate if migrate is None else migrate:
        db.migrate()
    db.check_schema()
    return db
