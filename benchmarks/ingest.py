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

    python benchmarks/ingest.py --floor [--sizes 100000] [--formats jsonl,kaggle]

measures the least CPU any import of those files must spend, whatever the
catalogue code does: the reader's parse and validation (into a list), a COPY of
each paper's title, abstract, organisation and authors into an unindexed table
("copy"), the same COPY into a table whose one extra column is the generated
full-text vector of `papers.search` (its extra cost is "vector"), and one GIN
index built over that from scratch (cheaper than the per-row inserts an import
into a live catalogue makes). No merge lookups, provenance, author rows,
queues, btree indexes or the second GIN. "ceiling papers/s" is what that floor allows on
this machine's cores if both were busy all the time: papers / (cpu s / cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import Generator, jsonl_lines, kaggle_lines, listing_page  # noqa: E402
from paperfeed import catalogue  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.model import BadRecord, Item, Paper, checked  # noqa: E402
from paperfeed.sources import jsonl, kaggle, listing  # noqa: E402

# The expression of the generated `papers.search` column, as the migrated database holds it:
# the floor's table computes exactly what the catalogue does.
_SEARCH_EXPRESSION = """
SELECT pg_get_expr(d.adbin, d.adrelid) AS expression
FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = 'papers'::regclass AND a.attname = 'search'"""


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


def read_items(fmt: str, path: Path) -> Iterable[Item]:
    if fmt == "listing":
        return listing.parse(path.read_bytes(), str(path), 2025)
    if fmt == "kaggle":  # streamed from disk, as `paperfeed ingest kaggle` reads a 4 GB dump
        return kaggle.read(path, origin=str(path))
    return jsonl.parse(path.read_bytes(), str(path))


def timed_import(db: Database, fmt: str, path: Path) -> tuple[float, catalogue.IngestReport]:
    start = time.perf_counter()
    report = catalogue.ingest(db, read_items(fmt, path), source=fmt, origin=path.name)
    return time.perf_counter() - start, report


def cpu_now(pgdata: Path) -> float:
    """CPU seconds of this process and of the benchmark's server so far."""
    return time.process_time() + server_cpu(pgdata)


def copy_cpu(conn: psycopg.Connection, pgdata: Path, table: str, papers: list[Paper]) -> float:
    """CPU seconds (client and server) of one COPY of the papers into a floor table."""
    start = cpu_now(pgdata)
    with (
        conn.cursor() as cur,
        cur.copy(
            f"COPY {table} (title, abstract, organization, authors) FROM STDIN"  # noqa: S608 - ours
        ) as copy,
    ):
        for paper in papers:
            copy.write_row((paper.title, paper.abstract, paper.organization, list(paper.authors)))
    conn.commit()
    return cpu_now(pgdata) - start


def floor(db: Database, pgdata: Path, fmt: str, path: Path, size: int) -> tuple[float, ...]:
    """CPU seconds of the stages every import pays (see the module docstring)."""
    start = time.process_time()
    papers = []
    for item in checked(read_items(fmt, path)):
        assert not isinstance(item, BadRecord), item
        papers.append(item.paper)
    parse = time.process_time() - start
    assert len(papers) == size

    with db.connection() as conn:
        expression = conn.execute(_SEARCH_EXPRESSION).fetchone()["expression"]
        conn.execute(
            "CREATE TABLE floor_papers (title text, abstract text, organization text,"
            f" authors text[], search tsvector GENERATED ALWAYS AS ({expression}) STORED)"
        )
        # The same columns without the full-text one: what the COPY itself costs.
        conn.execute(
            "CREATE TABLE floor_plain"
            " (title text, abstract text, organization text, authors text[])"
        )
        conn.commit()
        copy, vector = (
            copy_cpu(conn, pgdata, table, papers) for table in ("floor_plain", "floor_papers")
        )
        start = cpu_now(pgdata)
        # One backend, as the per-row index inserts of an import are made.
        conn.execute("SET max_parallel_maintenance_workers = 0")
        conn.execute("CREATE INDEX ON floor_papers USING gin (search)")
        conn.commit()
        gin = cpu_now(pgdata) - start
    return parse, copy, vector - copy, gin


def print_floor(rows: list[tuple[str, int, float, float, float, float]]) -> None:
    cores = os.cpu_count() or 1
    header = ("format", "papers", "parse", "copy", "vector", "gin", "floor cpu s", "per 100k")
    print("{:<8} {:>8} {:>7} {:>7} {:>7} {:>6} {:>12} {:>9}  ceiling papers/s".format(*header))
    for fmt, size, parse, copy, vector, gin in rows:
        total = parse + copy + vector + gin
        print(
            f"{fmt:<8} {size:>8} {parse:>7.2f} {copy:>7.2f} {vector:>7.2f} {gin:>6.2f}"
            f" {total:>12.2f} {total * 100_000 / size:>9.2f}  {size / (total / cores):>8.0f}"
        )


def measure_import(
    db: Database, pgdata: Path | None, fmt: str, path: Path, size: int
) -> tuple[str, int, float, float, float, float, float]:
    """Import a file, then import it again; CPU seconds of the first only with `pgdata`."""
    cpu = cpu_now(pgdata) if pgdata else 0.0
    first, report = timed_import(db, fmt, path)
    cpu = cpu_now(pgdata) - cpu if pgdata else 0.0
    assert report.new == size and report.rejected == 0, report
    again, report = timed_import(db, fmt, path)
    assert report.new == 0 and report.merged == size, report
    return fmt, size, first, size / first, cpu, again, size / again


def print_imports(
    rows: list[tuple[str, int, float, float, float, float, float]], cpu: bool
) -> None:
    header = ("format", "papers", "import s", "papers/s", "cpu s", "re-import s", "papers/s")
    print("{:<8} {:>8} {:>9} {:>9} {:>7} {:>12} {:>9}".format(*header))
    for fmt, size, first, rate, cpu_s, again, rate2 in rows:
        cpu_text = f"{cpu_s:>7.2f}" if cpu else f"{'-':>7}"
        print(
            f"{fmt:<8} {size:>8} {first:>9.2f} {rate:>9.0f} {cpu_text} {again:>12.2f} {rate2:>9.0f}"
        )


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
    parser.add_argument("--floor", action="store_true", help="Measure the floor (see above).")
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
        if args.floor and not measure_cpu:
            parser.error("--floor reads CPU times from /proc (Linux only)")
        rows = []
        for size in sizes:
            files = {}
            for fmt in formats:
                files[fmt] = write_file(Path(tmp), fmt, size)
            for fmt, path in files.items():
                db = fresh_database(server_uri, f"bench_{fmt}_{size}")
                quiesce(server_uri)
                if args.floor:
                    rows.append((fmt, size, *floor(db, pgdata, fmt, path, size)))
                else:
                    rows.append(
                        measure_import(db, pgdata if measure_cpu else None, fmt, path, size)
                    )
                db.close()
                drop_database(server_uri, f"bench_{fmt}_{size}")
                print(f"  done {fmt} {size}", file=sys.stderr)

    if args.floor:
        print_floor(rows)
    else:
        print_imports(rows, measure_cpu)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", file=sys.stderr)


if __name__ == "__main__":
    main()
