"""Dask back-fill throughput for 1, 2, 4 local workers (papers per second, model loads excluded).

    python benchmarks/embed_cluster.py --data-dir DIR [--papers 400] [--workers 1,2,4]

Copies `--papers` papers (title, abstract) from the search_speed database
pf_speed_100000 into a fresh database without vectors, then embeds them with
`index.distributed` on a LocalCluster of N single-thread worker processes and
the configured default model. The model is loaded in every worker before the
clock starts. On a 2-core machine more workers cannot beat the cores.
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--papers", type=int, default=400)
    ap.add_argument("--workers", default="1,2,4")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    from paperfeed.db import embedded

    server = embedded.start(Path(args.data_dir))
    model_dir = str(Path(tempfile.gettempdir()) / "paperfeed-test-models")
    get_embedder(DEFAULT_MODEL, model_dir).prepare()
    factory = distributed.ModelFactory(DEFAULT_MODEL, model_dir)
    source = make_conninfo(server, dbname="pf_speed_100000")
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
            client.run(lambda: factory().embed_documents(["warm up"]))
            started = time.perf_counter()
            done = distributed.embed_on_cluster(
                client, url, DEFAULT_MODEL, factory, range_papers=50, batch_size=25
            )
            elapsed = time.perf_counter() - started
        cluster.close()
        print(f"{n} workers: {done} papers in {elapsed:.1f} s = {done / elapsed:.1f} papers/s")
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
