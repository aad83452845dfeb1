"""Read replicas: which PostgreSQL standby may answer a read, and how far behind it is.

`PAPERFEED_READ_DATABASE_URLS` names streaming-replication standbys of the
primary. Code marks the reads that may be a little stale with
`db.replica_reads(min_lsn)` (the web layer does so for GET pages, search,
feeds and API reads); every other connection, and every write, goes to the
primary. Within such a block `db.connection()` and `db.transaction()` hand out
a replica connection when one is usable:

- it answered its last check (a dead one is skipped until a check succeeds);
- it lags the primary by at most `max_lag` seconds;
- it has replayed the WAL up to `min_lsn`, the primary's position after the
  caller's own last write (read-your-writes: a browser that just voted is
  served by the primary until a replica has its vote).

Checks are cached for CHECK_SECONDS, so routing costs no query on the hot
path, except one `pg_last_wal_replay_lsn()` when a pinned reader meets a
replica whose cached position is behind its write. A replica that fails
mid-request raises `ReplicaUnusable`; the web layer then runs the request
again on the primary, so a replica going away never reaches a user.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

# How long a replica's health and lag stay trusted before the next check.
CHECK_SECONDS = 1.0
# A replica that fails is not tried again for this long.
DOWN_SECONDS = 5.0
# Waiting longer than this for a replica connection means it is gone: use the primary.
CONNECT_TIMEOUT = 2.0


class ReplicaUnusable(RuntimeError):
    """A replica could not serve this work (gone, or it needed a write): redo it on the primary."""


def parse_lsn(text: str | None) -> int:
    """A WAL position ("16/B374D848") as a comparable integer; 0 for none."""
    if not text:
        return 0
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def describe(url: str) -> str:
    """host:port/dbname of a URL, without credentials, for status output and logs."""
    parts = conninfo_to_dict(url)
    host = parts.get("host") or "localhost"
    return f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


@dataclass(frozen=True)
class ReadRoute:
    """Reads in this context may use a replica that has replayed up to `min_lsn`."""

    min_lsn: int = 0


# Set by `Database.replica_reads`; None (the default) sends everything to the primary.
READ_ROUTE: ContextVar[ReadRoute | None] = ContextVar("paperfeed_read_route", default=None)


@dataclass
class Replica:
    """One standby: its pool and what its last check found."""

    url: str
    pool: ConnectionPool
    healthy: bool = False
    lag_seconds: float = math.inf
    replay_lsn: int = 0
    checked_at: float = -math.inf
    down_until: float = -math.inf
    error: str = ""
    served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return describe(self.url)


class Replicas:
    """The configured standbys of one primary, checked lazily and picked per read."""

    def __init__(
        self,
        urls: list[str],
        primary_url: str,
        *,
        max_lag: float,
        pool_size: int,
        configure: object,
    ) -> None:
        self.primary_url = primary_url
        self.max_lag = max_lag
        self._next = 0
        self.members = [
            Replica(
                url,
                ConnectionPool(
                    url,
                    min_size=0,
                    max_size=pool_size,
                    kwargs={"row_factory": dict_row, "connect_timeout": 2},
                    configure=configure,  # type: ignore[arg-type]
                    check=ConnectionPool.check_connection,
                    name=f"replica-{i}",
                    open=True,
                ),
            )
            for i, url in enumerate(urls)
        ]

    def close(self) -> None:
        for member in self.members:
            member.pool.close()

    def pick(self, min_lsn: int) -> Replica | None:
        """A usable replica for a read that must see `min_lsn`, round-robin; None: the primary."""
        count = len(self.members)
        for step in range(count):
            member = self.members[(self._next + step) % count]
            if self._usable(member, min_lsn):
                self._next = (self._next + step + 1) % count
                return member
        return None

    def _usable(self, member: Replica, min_lsn: int) -> bool:
        now = time.monotonic()
        if now < member.down_until:
            return False
        if now - member.checked_at > CHECK_SECONDS:
            self.check(member)
        if not member.healthy or member.lag_seconds > self.max_lag:
            return False
        if member.replay_lsn >= min_lsn:
            return True
        # The cached position is older than the reader's write: ask once more.
        try:
            with psycopg.connect(member.url, connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
        except psycopg.Error as exc:
            self.mark_down(member, exc)
            return False
        member.replay_lsn = max(member.replay_lsn, parse_lsn(row[0] if row else None))
        return member.replay_lsn >= min_lsn

    def check(self, member: Replica) -> None:
        """Measure one replica: alive, a standby, replay position and lag behind the primary."""
        with member.lock:
            if time.monotonic() - member.checked_at <= CHECK_SECONDS:
                return
            try:
                # The primary's position first: a replica that has replayed up to
                # it is caught up, whatever was written after it.
                with psycopg.connect(self.primary_url, connect_timeout=2) as conn:
                    primary = conn.execute(
                        "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
                        " ELSE pg_current_wal_lsn() END::text"
                    ).fetchone()[0]
                with psycopg.connect(member.url, connect_timeout=2) as conn:
                    row = conn.execute(
                        "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
                        " extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8"
                    ).fetchone()
            except psycopg.Error as exc:
                member.checked_at = time.monotonic()
                self.mark_down(member, exc)
                return
            standby, replay, since = row
            member.checked_at = time.monotonic()
            member.replay_lsn = parse_lsn(replay)
            if not standby:
                # A promoted (or misconfigured) server is no longer a copy of the primary.
                member.healthy, member.lag_seconds = False, math.inf
                member.error = "not in recovery (promoted, or not a standby)"
                return
            caught_up = member.replay_lsn >= parse_lsn(primary)
            member.lag_seconds = 0.0 if caught_up else max(float(since or math.inf), 0.0)
            member.healthy, member.error = True, ""

    def mark_down(self, member: Replica, exc: BaseException) -> None:
        """Skip a replica that failed until DOWN_SECONDS have passed and a check succeeds."""
        if member.healthy or not member.error:
            log.warning("read replica %s is unusable: %s", member.name, exc)
        member.healthy = False
        member.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        member.down_until = time.monotonic() + DOWN_SECONDS
        member.checked_at = -math.inf

    def refresh(self) -> None:
        """Check every replica now (status output, tests)."""
        for member in self.members:
            member.checked_at = -math.inf
            member.down_until = -math.inf
            self.check(member)

    def status(self) -> list[dict[str, object]]:
        """One row per replica: name, state, lag in seconds, replay position, reads served."""
        self.refresh()
        rows: list[dict[str, object]] = []
        for m in self.members:
            if not m.healthy:
                state = f"down: {m.error}"
            elif m.lag_seconds > self.max_lag:
                state = f"lagging (over {self.max_lag:g} s): skipped"
            else:
                state = "ok"
            rows.append(
                {
                    "replica": m.name,
                    "state": state,
                    "lag_seconds": m.lag_seconds if m.healthy else None,
                    "replay_lsn": format_lsn(m.replay_lsn) if m.replay_lsn else None,
                    "served": m.served,
                }
            )
        return rows

    @contextmanager
    def connection(self, member: Replica) -> Iterator[psycopg.Connection]:
        """A connection of `member`; ReplicaUnusable when it fails or the work needs a write."""
        with self.serving(member), member.pool.connection(timeout=CONNECT_TIMEOUT) as conn:
            yield conn

    @contextmanager
    def serving(self, member: Replica) -> Iterator[None]:
        """Work on a connection of `member`: counted, and ReplicaUnusable when it fails
        or needs a write (a connection taken from its pool some other way uses it too)."""
        member.served += 1
        try:
            yield
        except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.SerializationFailure) as exc:
            # A write, or a query cancelled by a conflict with WAL replay (a
            # standby's only serialization failure): the primary does either.
            raise ReplicaUnusable(f"replica {member.name}: {exc}") from exc
        except psycopg.OperationalError as exc:  # PoolTimeout included
            self.mark_down(member, exc)
            raise ReplicaUnusable(f"replica {member.name}: {exc}") from exc
