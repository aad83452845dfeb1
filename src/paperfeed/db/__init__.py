"""Connections, transactions and the schema version.

One `Database` per process wraps a psycopg connection pool. Work happens in
`db.transaction()` blocks: one request or one ingest batch is one transaction,
committed when the block exits and rolled back on any exception, so a crash
never leaves half a batch behind. Application code never calls commit itself.

Size: the pool, transactions, migrations with their checksums and the read routing all
wrap the same pool and its connection set-up; replicas live in db/replicas.py and the
embedded server in db/embedded.py.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import psycopg
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from paperfeed.config import Settings
from paperfeed.db.replicas import (
    READ_ROUTE,
    ReadRoute,
    Replica,
    Replicas,
    ReplicaUnusable,
    parse_lsn,
)

__all__ = ["Database", "ReplicaUnusable", "SchemaError", "open_database", "snapshot"]

log = logging.getLogger(__name__)

# Serialises migrations across every process that starts at the same time
# (several web workers, a scheduler and a CLI import may all start together).
MIGRATION_LOCK = 7_240_001
# Seconds to wait for the server to accept a connection (libpq waits forever by
# default; a wrong host would hang every command).
CONNECT_TIMEOUT = 5
# Seconds a caller waits for a free pooled connection before giving up (a web
# request then answers 503 instead of hanging through an outage).
POOL_WAIT = 5.0
# Seconds a caller holding a connection waits for a second one (`spare_transaction`):
# short, so that a full pool costs little; longer while the pool can still grow
# (opening a connection takes ~5-50 ms).
SPARE_WAIT = 0.02
SPARE_GROW_WAIT = 0.5
# Most seconds between two reconnection attempts while the server is away.
RECONNECT_EVERY = 1.0


class SchemaError(RuntimeError):
    """The database schema is older or newer than this paperfeed, or was altered."""


def checksum(sql: str) -> str:
    """SHA-256 of a migration's text, line endings normalised (a CRLF checkout is the same file)."""
    text = sql.replace("\r\n", "\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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


class _SteadyAttempt(AttemptWithBackoff):
    """Reconnection attempts at most RECONNECT_EVERY seconds apart.

    psycopg_pool doubles its wait after every failed attempt (1, 2, 4 … 128 s),
    so after a 2.5-minute outage the pool stayed broken for another ~2 minutes
    after the database was back. A connection attempt to a server that is down
    costs next to nothing; retrying steadily makes recovery take seconds.
    """

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_EVERY)


class _Pool(ConnectionPool):
    """A pool that keeps trying to reconnect, steadily, for as long as the server is away."""

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        super()._add_connection(
            attempt or _SteadyAttempt(timeout=self.reconnect_timeout), growing=growing
        )


def _configure(conn: psycopg.Connection) -> None:
    # pgvector's type is registered when the extension exists (after migration 1).
    with suppress(psycopg.ProgrammingError):
        register_vector(conn)
    # Autocommit between explicit transactions: a pooled connection never idles
    # inside a transaction that would hold locks or snapshot old rows.
    conn.autocommit = True


class Database:
    """A pool of connections to one PostgreSQL database, and optionally its read replicas."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        name: str = "paperfeed",
        connect_timeout: int = CONNECT_TIMEOUT,
        read_urls: list[str] | None = None,
        max_lag: float = 10.0,
    ) -> None:
        self.url = url
        self.name = name
        self.connect_timeout = connect_timeout
        self.pool = self._open_pool(pool_size)
        self.replicas = (
            Replicas(read_urls, url, max_lag=max_lag, pool_size=pool_size, configure=_configure)
            if read_urls
            else None
        )

    def _open_pool(self, size: int) -> ConnectionPool:
        return _Pool(
            self.url,
            min_size=1,
            max_size=size,
            kwargs={"row_factory": dict_row, "connect_timeout": self.connect_timeout},
            configure=_configure,
            name=self.name,
            # A request waits this long for a connection, then fails (503), rather
            # than the library's 30 s; an outage shows at once, not as a hang.
            timeout=POOL_WAIT,
            # A connection the server dropped (restart, outage) is replaced at
            # checkout instead of failing the request that got it.
            check=ConnectionPool.check_connection,
            reconnect_timeout=24 * 3600,
            open=True,
        )

    def close(self) -> None:
        self.pool.close()
        if self.replicas is not None:
            self.replicas.close()

    @contextmanager
    def replica_reads(self, min_lsn: int = 0) -> Iterator[None]:
        """Let the connections taken in this block come from a replica at `min_lsn` or later.

        Only for work that reads; a write in it raises ReplicaUnusable (the
        caller redoes the work outside the block). Without replicas, a no-op.
        """
        token = READ_ROUTE.set(ReadRoute(min_lsn))
        try:
            yield
        finally:
            READ_ROUTE.reset(token)

    @contextmanager
    def primary_reads(self) -> Iterator[None]:
        """Send every connection of this block to the primary, even inside `replica_reads`."""
        token = READ_ROUTE.set(None)
        try:
            yield
        finally:
            READ_ROUTE.reset(token)

    def _read_replica(self) -> Replica | None:
        route = READ_ROUTE.get()
        if route is None or self.replicas is None:
            return None
        return self.replicas.pick(route.min_lsn)

    def write_position(self) -> int:
        """The primary's WAL position now: a read at or past it sees every write made so far.

        0 when the "primary" is itself a standby (it takes no writes).
        """
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT CASE WHEN pg_is_in_recovery() THEN NULL"
                " ELSE pg_current_wal_lsn()::text END AS lsn"
            ).fetchone()
        return parse_lsn(row["lsn"])

    def read_only(self) -> bool:
        """Whether the primary URL points at a standby (every write would fail)."""
        with self.pool.connection() as conn:
            return bool(_first(conn.execute("SELECT pg_is_in_recovery() AS r").fetchone()))

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in autocommit mode, for reads that need no transaction."""
        member = self._read_replica()
        if member is not None:
            assert self.replicas is not None
            with self.replicas.connection(member) as conn:
                yield conn
            return
        with self.pool.connection() as conn:
            yield conn

    def dedicated_connection(self) -> psycopg.Connection:
        """A connection of its own, outside the pool, set up like the pool's ones.

        For work that needs several connections at once whatever the pool size
        (an import's parallel writers); the caller closes it.
        """
        conn = psycopg.connect(self.url, row_factory=dict_row, connect_timeout=self.connect_timeout)
        _configure(conn)
        return conn

    @contextmanager
    def spare_transaction(self, wait: float = SPARE_WAIT) -> Iterator[psycopg.Connection | None]:
        """A second pooled connection, inside a transaction, for work run beside the
        caller's own; None when none is free within `wait` s (then do the work on yours).

        A caller that already holds a connection must not wait long for another:
        were every connection held by such callers, each would wait for the others
        until POOL_WAIT and fail. Taken from where `transaction()` would be (a
        replica inside `replica_reads`), so both connections read the same server.
        """
        member = self._read_replica()
        pool = self.pool if member is None else member.pool
        # A pool that can still open a connection will have one soon.
        growing = pool.get_stats().get("pool_size", 0) < pool.max_size
        try:
            conn = pool.getconn(timeout=SPARE_GROW_WAIT if growing else wait)
        except PoolTimeout:  # busy, not down: the caller does the work itself
            yield None
            return
        try:
            with (
                self.replicas.serving(member) if member is not None else nullcontext(),
                conn.transaction(),
            ):
                yield conn
        finally:
            pool.putconn(conn)

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside one transaction, committed on normal exit."""
        member = self._read_replica()
        if member is not None:
            assert self.replicas is not None
            with self.replicas.connection(member) as conn, conn.transaction():
                yield conn
            return
        with self.pool.connection() as conn, conn.transaction():
            yield conn

    def schema_version(self) -> int:
        """The number of migrations applied (0 on an empty database)."""
        with self.connection() as conn:
            return current_version(conn)

    def schema_state(self) -> SchemaState:
        """Applied versus shipped migrations, with any checksum mismatch."""
        with self.connection() as conn:
            return schema_state(conn)

    def check_schema(self) -> None:
        """Refuse to run on a schema that is not exactly this code's."""
        state = self.schema_state()
        if state.problem:
            raise SchemaError(state.problem)

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction; return their names.

        Refuses (SchemaError, nothing applied) when an applied migration's
        checksum differs from the shipped file or the schema is newer than this code.
        """
        applied = []
        with psycopg.connect(
            self.url, autocommit=True, connect_timeout=self.connect_timeout
        ) as conn:
            if _first(conn.execute("SELECT pg_is_in_recovery()").fetchone()):
                # A standby takes its schema from the primary's WAL; it can apply nothing.
                log.info("database is a read-only standby: migrations are the primary's job")
                return applied
            conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now(), checksum text)"
                )
                # Builds before checksums made the table without the column.
                conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
                state = schema_state(conn)
                if state.mismatched or state.newer:
                    raise SchemaError(state.problem)
                for version, name, sql in migrations():
                    if version <= state.applied:
                        continue
                    with conn.transaction():
                        conn.execute(sql.encode("utf-8"))
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum)"
                            " VALUES (%s, %s, %s)",
                            (version, name, checksum(sql)),
                        )
                    log.info("applied migration %s", name)
                    applied.append(name)
                adopted = _adopt_unchecked(conn)
                if adopted:
                    log.info(
                        "recorded checksums of %d migrations applied by an older paperfeed"
                        " (0006_repair_edited.sql brought them up to the shipped files)",
                        adopted,
                    )
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
        if applied:
            # Connections opened before the vector extension existed lack its type.
            size = self.pool.max_size
            self.pool.close()
            self.pool = self._open_pool(size)
        return applied


@dataclass
class SchemaState:
    """How a database's applied migrations compare with the ones this code ships."""

    applied: int
    latest: int
    # (file name, recorded checksum, shipped checksum) of every applied migration
    # whose file changed since it ran.
    mismatched: list[tuple[str, str, str]] = field(default_factory=list)
    # Applied migrations recorded without a checksum (by builds before checksums).
    unchecked: int = 0

    @property
    def pending(self) -> int:
        return max(self.latest - self.applied, 0)

    @property
    def newer(self) -> bool:
        return self.applied > self.latest

    @property
    def problem(self) -> str:
        """One line saying why this code must not run on the schema, or ''."""
        if self.mismatched:
            name, have, want = self.mismatched[0]
            more = f" (and {len(self.mismatched) - 1} more)" if len(self.mismatched) > 1 else ""
            return (
                f"migration {name}{more} was applied with checksum {have[:12]}, but this "
                f"paperfeed ships {want[:12]}: the file changed after it ran here. Refusing to "
                "run; restore the shipped file or use the paperfeed build that made this database"
            )
        if self.newer:
            return (
                f"database schema is at version {self.applied}, newer than this paperfeed "
                f"({self.latest}): upgrade paperfeed"
            )
        if self.pending or self.unchecked:
            return (
                f"database schema is at version {self.applied}, this paperfeed needs "
                f"{self.latest}: run `paperfeed db migrate` (or set PAPERFEED_AUTO_MIGRATE=true)"
            )
        return ""


def schema_state(conn: psycopg.Connection) -> SchemaState:
    """Compare the bookkeeping table with the shipped migrations (read-only)."""
    shipped = {version: (name, checksum(sql)) for version, name, sql in migrations()}
    state = SchemaState(applied=current_version(conn), latest=len(shipped))
    if not state.applied:
        return state
    has_column = conn.execute(
        "SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'schema_migrations' AND column_name = 'checksum'"
        " AND table_schema = current_schema()"
    ).fetchone()
    if not has_column:
        state.unchecked = state.applied
        return state
    cur = conn.cursor(row_factory=tuple_row)
    for version, recorded in cur.execute("SELECT version, checksum FROM schema_migrations"):
        if version not in shipped:
            continue
        name, want = shipped[version]
        if recorded is None:
            state.unchecked += 1
        elif recorded != want:
            state.mismatched.append((name, str(recorded), want))
    return state


def _adopt_unchecked(conn: psycopg.Connection) -> int:
    """Record the shipped checksums for migrations applied before checksums existed.

    Only the files edited after shipping (0002-0004) ever differed, and the
    repair migration has just brought such a database up to them, so from
    here on the shipped checksums describe it.
    """
    shipped = [(version, checksum(sql)) for version, _, sql in migrations()]
    adopted = 0
    for version, want in shipped:
        cur = conn.execute(
            "UPDATE schema_migrations SET checksum = %s WHERE version = %s AND checksum IS NULL",
            (want, version),
        )
        adopted += cur.rowcount
    return adopted


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


def mask_url(text: str, url: str = "") -> str:
    """`text` with the password of `url` (and of any URL or key=value in it) hidden.

    psycopg quotes the connection string in some errors (a mistyped URL is echoed
    whole), so every message about a connection goes through here first.
    """
    if url:
        with suppress(psycopg.ProgrammingError, ValueError):
            password = conninfo_to_dict(url).get("password")
            if password:
                text = text.replace(str(password), "***")
    text = _URL_PASSWORD.sub(r"\1***\2", text)
    return _KV_PASSWORD.sub(r"\1***", text)


# "user:secret@host" wherever it appears, even in a URL too mangled to parse.
_URL_PASSWORD = re.compile(r"([^\s:/@\"']+:)[^\s/@\"']+(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def connection_problem(exc: BaseException, url: str) -> str:
    """One line about a failed connection, password masked, without a traceback."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return "cannot connect to the database: " + mask_url(first, url)


def resolve_url(settings: Settings) -> str:
    """The database URL: the configured one, or the embedded server's (started on demand)."""
    if settings.database_url:
        return settings.database_url
    from paperfeed.db import embedded

    return embedded.start(Path(settings.home))


def open_database(settings: Settings, *, migrate: bool | None = None) -> Database:
    """Connect (starting the embedded server if needed) and bring the schema up to date."""
    db = Database(
        resolve_url(settings),
        pool_size=settings.pool_size,
        read_urls=settings.read_urls,
        max_lag=settings.read_max_lag,
    )
    if settings.auto_migrate if migrate is None else migrate:
        db.migrate()
    db.check_schema()
    return db
