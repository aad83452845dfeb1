"""Import throughput: papers/s for listing pages and JSONL into the embedded database.

    python benchmarks/ingest.py [--sizes 10000,100000]

For each size, synthetic papers (benchmarks/synthetic.py) are written as a
listing page and as a JSONL file; each file is imported into a fresh, migrated
database on one embedded PostgreSQL, end to end as `paperfeed ingest` does it
(read, parse, validate, merge, write, with full-text indexing; no embeddings).
A second run of the same file measures the re-import (every record merges).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import Generator, jsonl_lines, listing_page  # noqa: E402
from paperfeed import catalogue  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.sources import jsonl, listing  # noqa: E402


def fresh_database(server_uri: str, name: str) -> Database:
    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(make_conninfo(server_uri, dbname=name), pool_size=2)
    db.migrate()
    return db


def timed_import(db: Database, fmt: str, path: Path) -> tuple[float, catalogue.IngestReport]:
    start = time.perf_counter()
    data = path.read_bytes()
    if fmt == "listing":
        items = listing.parse(data, str(path), 2025)
    else:
        items = jsonl.parse(data, str(path))
    report = catalogue.ingest(db, items, source=fmt, origin=path.name)
    return time.perf_counter() - start, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from paperfeed.db import embedded

        server_uri = embedded.start(Path(tmp) / "home")
        rows = []
        for size in sizes:
            papers = list(Generator(seed=size).papers(size))
            files = {
                "listing": Path(tmp) / f"page-{size}.txt",
                "jsonl": Path(tmp) / f"papers-{size}.jsonl",
            }
            files["listing"].write_text(listing_page(papers), encoding="utf-8")
            files["jsonl"].write_text("\n".join(jsonl_lines(papers)) + "\n", encoding="utf-8")
            for fmt, path in files.items():
                db = fresh_database(server_uri, f"bench_{fmt}_{size}")
                first, report = timed_import(db, fmt, path)
                assert report.new == size and report.rejected == 0, report
                again, report = timed_import(db, fmt, path)
                assert report.new == 0 and report.merged == size, report
                db.close()
                rows.append((fmt, size, first, size / first, again, size / again))
                print(f"  done {fmt} {size}", file=sys.stderr)

    header = ("format", "papers", "import s", "papers/s", "re-import s", "papers/s")
    print("{:<8} {:>8} {:>9} {:>9} {:>12} {:>9}".format(*header))
    for fmt, size, first, rate, again, rate2 in rows:
        print(f"{fmt:<8} {size:>8} {first:>9.2f} {rate:>9.0f} {again:>12.2f} {rate2:>9.0f}")


if __name__ == "__main__":
    main()
