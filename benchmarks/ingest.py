"""Import throughput: papers/s for listing pages, JSONL and Kaggle-snapshot lines.

    python benchmarks/ingest.py [--sizes 10000,100000] [--formats listing,jsonl,kaggle]

For each size, synthetic papers (benchmarks/synthetic.py) are written as a
listing page, a JSONL file and Kaggle arXiv-snapshot lines (ids, versions,
authors_parsed, categories as in the real dataset); each file is imported into a fresh, migrated
database on one embedded PostgreSQL, end to end as `paperfeed ingest` does it
(read, parse, validate, merge, write, with full-text indexing; no embeddings).
A second run of the same file measures the re-import (every record merges).
Each measurement starts after a CHECKPOINT, and its database is dropped once
measured: otherwise the checkpoint and autovacuum of one run's tables land in
the next run (on 2 cores that cost the 100k JSONL import 20%).

Wall time depends on what else the machine runs; "cpu s" (this process plus
every PostgreSQL process of the benchmark's own server, Linux only) moves much
less with load, so compare variants by it on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import Generator, jsonl_lines, kaggle_lines, listing_page  # noqa: E402
from paperfeed import catalogue  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.sources import jsonl, kaggle, listing  # noqa: E402


def fresh_database(server_uri: str, name: str) -> Database:
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(make_conninfo(server_uri, dbname=name), pool_size=2)
    db.migrate()
    return db


def drop_database(server_uri: str, name: str) -> None:
    """Drop a measured database, so that no later measurement pays for vacuuming it."""
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def quiesce(server_uri: str) -> None:
    """Start each measurement alike: no dirty pages of earlier runs left to write out."""
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def server_cpu(pgdata: Path) -> float:
    """CPU seconds used so far by a PostgreSQL server: the postmaster and all its children."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")

    def times(pid: int | str) -> tuple[int, list[str]]:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[1]), fields  # parent pid, then utime/stime/cutime/cstime at 11..14

    # The postmaster's own time and that of the children it has reaped (exited
    # backends), plus the live children's.
    total = sum(int(f) for f in times(postmaster)[1][11:15])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent, fields = times(pid)
        except OSError:  # exited meanwhile
            continue
        if parent == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def timed_import(db: Database, fmt: str, path: Path) -> tuple[float, catalogue.IngestReport]:
    start = time.perf_counter()
    if fmt == "listing":
        items = listing.parse(path.read_bytes(), str(path), 2025)
    elif fmt == "kaggle":  # streamed from disk, as `paperfeed ingest kaggle` reads a 4 GB dump
        items = kaggle.read(path, origin=str(path))
    else:
        items = jsonl.parse(path.read_bytes(), str(path))
    report = catalogue.ingest(db, items, source=fmt, origin=path.name)
    return time.perf_counter() - start, report


def write_file(folder: Path, fmt: str, size: int) -> Path:
    """`size` synthetic papers in one format; line formats are written line by line
    (1M Kaggle lines are 1.3 GB: never one string)."""
    papers = Generator(seed=size).papers(size)
    if fmt == "listing":
        path = folder / f"page-{size}.txt"
        path.write_text(listing_page(list(papers)), encoding="utf-8")
        return path
    path = folder / (f"snapshot-{size}.json" if fmt == "kaggle" else f"papers-{size}.jsonl")
    lines = kaggle_lines(papers) if fmt == "kaggle" else jsonl_lines(papers)
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--formats", default="listing,jsonl,kaggle")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = args.formats.split(",")

    # The embedded server stops only when this process exits, after the directory
    # is removed: what it still writes there must not fail the run.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from paperfeed.db import embedded

        server_uri = embedded.start(Path(tmp) / "home")
        pgdata = Path(tmp) / "home" / "pgdata"
        measure_cpu = Path("/proc/self/stat").exists()
        rows = []
        for size in sizes:
            files = {}
            for fmt in formats:
                files[fmt] = write_file(Path(tmp), fmt, size)
            for fmt, path in files.items():
                db = fresh_database(server_uri, f"bench_{fmt}_{size}")
                quiesce(server_uri)
                cpu = time.process_time() + (server_cpu(pgdata) if measure_cpu else 0)
                first, report = timed_import(db, fmt, path)
                cpu = time.process_time() + (server_cpu(pgdata) if measure_cpu else 0) - cpu
                assert report.new == size and report.rejected == 0, report
                again, report = timed_import(db, fmt, path)
                assert report.new == 0 and report.merged == size, report
                db.close()
                drop_database(server_uri, f"bench_{fmt}_{size}")
                rows.append((fmt, size, first, size / first, cpu, again, size / again))
                print(f"  done {fmt} {size}", file=sys.stderr)

    header = ("format", "papers", "import s", "papers/s", "cpu s", "re-import s", "papers/s")
    print("{:<8} {:>8} {:>9} {:>9} {:>7} {:>12} {:>9}".format(*header))
    for fmt, size, first, rate, cpu, again, rate2 in rows:
        cpu_text = f"{cpu:>7.2f}" if measure_cpu else f"{'-':>7}"
        print(
            f"{fmt:<8} {size:>8} {first:>9.2f} {rate:>9.0f} {cpu_text} {again:>12.2f} {rate2:>9.0f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)


if __name__ == "__main__":
    main()
