"""The embedded PostgreSQL: starts by itself, survives a crashed previous run, stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from paperfeed.db import embedded

# A child that starts the embedded server, prints its URI, then waits to be told to exit.
CHILD = """
import sys
from pathlib import Path
from paperfeed.db import embedded
print(embedded.start(Path(sys.argv[1])), flush=True)
sys.stdin.readline()
"""


def _start_child(home: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    uri = proc.stdout.readline().strip()
    assert uri.startswith("postgresql://"), uri
    return proc, uri


def _postmaster_pid(home: Path) -> int | None:
    pidfile = home / "pgdata" / "postmaster.pid"
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_stopped(home: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while _alive(_postmaster_pid(home)):
        assert time.monotonic() < deadline, "embedded server still running"
        time.sleep(0.1)


@pytest.mark.slow
def test_server_starts_with_pgvector_and_stops_with_its_last_user(tmp_path: Path) -> None:
    proc, uri = _start_child(tmp_path)
    with psycopg.connect(uri) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        assert conn.execute("SELECT '[1,2]'::vector <-> '[1,3]'::vector").fetchone()[0] == 1.0
        # Our tuning applied: a quarter of the memory in shared buffers.
        expected = embedded.memory_tuning(embedded.memory_bytes())["shared_buffers"]
        shown = conn.execute(
            "SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'"
        ).fetchone()[0]
        assert f"{shown}MB" == expected
    proc.communicate("\n", timeout=30)
    _wait_stopped(tmp_path)


@pytest.mark.slow
def test_a_killed_previous_run_does_not_stop_the_next_start(tmp_path: Path) -> None:
    crashed, _ = _start_child(tmp_path)
    crashed.send_signal(signal.SIGKILL)  # leaves its PID in the handle list
    crashed.wait()
    handles = tmp_path / "pgdata" / ".handle_pids.json"
    assert crashed.pid in json.loads(handles.read_text())

    proc, uri = _start_child(tmp_path)
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1
    assert crashed.pid not in json.loads(handles.read_text())
    proc.communicate("\n", timeout=30)
    # With the dead handle pruned, the last live user stops the server.
    _wait_stopped(tmp_path)


def test_a_corrupt_handle_list_is_reset(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / ".handle_pids.json").write_text('[12, "x"')  # half-written by a crash
    embedded.prune_stale_handles(pgdata)
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []


@pytest.mark.slow
def test_a_crashed_server_leaves_a_stale_lock_and_still_restarts(tmp_path: Path) -> None:
    proc, _ = _start_child(tmp_path)
    postmaster = _postmaster_pid(tmp_path)
    os.kill(postmaster, signal.SIGKILL)  # the server dies without removing postmaster.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _wait_stopped(tmp_path)
    assert (tmp_path / "pgdata" / "postmaster.pid").exists()

    again, uri = _start_child(tmp_path)
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1
    again.communicate("\n", timeout=30)
    _wait_stopped(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="the shared socket directory is used as root")
def test_a_long_data_path_keeps_the_socket_private(tmp_path: Path) -> None:
    home = tmp_path / ("long-" * 20) / "home"  # too long for a socket inside pgdata
    proc, uri = _start_child(home)
    try:
        lines = (home / "pgdata" / "postmaster.pid").read_text().splitlines()
        socket_dir = Path(lines[4])
        assert socket_dir != (home / "pgdata").resolve()
        assert socket_dir.stat().st_mode & 0o777 == 0o700
        nobody = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os, sys, psycopg; os.setgid(65534); os.setuid(65534);"
                " psycopg.connect(sys.argv[1], connect_timeout=3)",
                uri,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert nobody.returncode != 0 and "ermission denied" in nobody.stderr
    finally:
        proc.communicate("\n", timeout=60)


def test_shared_buffers_are_a_quarter_of_the_memory_and_never_tiny() -> None:
    assert embedded.memory_tuning(24 * 2**30) == {
        "shared_buffers": "6144MB",
        "effective_cache_size": "18432MB",
    }
    assert embedded.memory_tuning(8 * 2**30)["shared_buffers"] == "2048MB"
    assert embedded.memory_tuning(256 * 2**20) == {
        "shared_buffers": "128MB",
        "effective_cache_size": "512MB",
    }
    assert 0 < embedded.memory_bytes() <= os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
