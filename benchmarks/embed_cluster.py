"""Dask back-fill throughput for 1, 2, 4 local workers (papers per second, model loads excluded).

    python benchmarks/embed_cluster.py --data-dir DIR [--papers 3000] [--workers 1,2,4]

Copies `--papers` papers (title, abstract) from a search_speed database
(`--source`, default the smallest pf_speed_* one on the server) into a fresh
database without vectors, then embeds them with `index.distributed` on a
LocalCluster of N single-thread worker processes and the configured default
model. Every worker loads the model and opens its connection before the clock
starts (the state the tasks reuse). Prints papers/s in all and per worker, and
the load average, since on a shared or 2-core machine more workers cannot beat
the cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from paperfeed.db import Database
from paperfeed.index import distributed
from paperfeed.index.embed import DEFAULT_MODEL, get_embedder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--papers", type=int, default=3000)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--source", help="Database to copy papers from (default: smallest pf_speed_*).")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    from paperfeed.db import embedded

    server = embedded.start(Path(args.data_dir))
    model_dir = str(Path(tempfile.gettempdir()) / "paperfeed-test-models")
    get_embedder(DEFAULT_MODEL, model_dir).prepare()
    factory = distributed.ModelFactory(DEFAULT_MODEL, model_dir)
    with psycopg.connect(server) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'pf_speed_%'"
                " ORDER BY length(datname), datname"
            )
        ]
    if not (args.source or names):
        raise SystemExit("no pf_speed_* database: build one with benchmarks/search_speed.py --keep")
    source = make_conninfo(server, dbname=args.source or names[0])
    print(f"source {args.source or names[0]}, {args.papers} papers, model {DEFAULT_MODEL}")
    with psycopg.connect(source) as conn:
        rows = conn.execute(
            "SELECT ident, title, norm_title, abstract FROM papers ORDER BY id LIMIT %s",
            (args.papers,),
        ).fetchall()
    for n in (int(w) for w in args.workers.split(",")):
        name = f"pf_embed_cluster_{n}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_conninfo(server, dbname=name)
        db = Database(url, pool_size=2)
        db.migrate()
        with db.transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO papers (ident, title, norm_title, abstract) VALUES (%s, %s, %s, %s)",
                rows,
            )
        db.close()
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with Client(cluster) as client:
            # The model load and the connection each task reuses, made before the clock.
            client.run(distributed.prepare_worker, url, factory)
            load = os.getloadavg()[0]
            started = time.perf_counter()
            done = distributed.embed_on_cluster(
                client, url, DEFAULT_MODEL, factory, range_papers=50, batch_size=25
            )
            elapsed = time.perf_counter() - started
        cluster.close()
        rate = done / elapsed
        print(
            f"{n} workers: {done} papers in {elapsed:.1f} s = {rate:.1f} papers/s,"
            f" {rate / n:.1f} per worker (load average {load:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after)",
            flush=True,
        )
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
