"""Binary-quantised HNSW against the halfvec HNSW and an exact scan: recall@10, latency, size.

    python benchmarks/binary_quantize.py --data-dir DIR --size 100000 [--queries 100]

Runs on a database `benchmarks/search_speed.py --keep` left behind (pf_speed_SIZE).
It builds `binary_quantize(embedding)::bit(384)` HNSW (Hamming distance, the same
m and ef_construction as the halfvec index), then for each query vector (stored
paper vectors with a little noise, so no model is needed) compares the top 10 of:

- exact: a sequential scan ordered by cosine distance (the truth);
- halfvec HNSW: the index search uses today (hnsw.ef_search = 100);
- bit HNSW + re-rank: the K nearest by Hamming distance from the bit index,
  re-ranked by the full vectors' cosine distance, for K = 40, 100, 200.

The bit index is dropped at the end unless --keep-index.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg.conninfo import make_conninfo

BIT_INDEX = "papers_embedding_bq_idx"


def _timed(conn: psycopg.Connection, sql: str, params: tuple) -> tuple[list[int], float]:
    started = time.perf_counter()
    ids = [r[0] for r in conn.execute(sql, params).fetchall()]
    return ids, (time.perf_counter() - started) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database-url", default="")
    ap.add_argument("--data-dir", help="Embedded server home of the search_speed run.")
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--keep-index", action="store_true")
    args = ap.parse_args()
    server = args.database_url
    if not server:
        from paperfeed.db import embedded

        server = embedded.start(Path(args.data_dir or tempfile.mkdtemp()))
    url = make_conninfo(server, dbname=f"pf_speed_{args.size}")
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        dim = int(
            conn.execute("SELECT vector_dims(embedding::vector) FROM papers LIMIT 1").fetchone()[0]
        )
        conn.execute(f"DROP INDEX IF EXISTS {BIT_INDEX}")
        conn.execute("SET maintenance_work_mem = '1GB'")
        started = time.perf_counter()
        conn.execute(
            f"CREATE INDEX {BIT_INDEX} ON papers USING hnsw"
            f" ((binary_quantize(embedding)::bit({dim})) bit_hamming_ops)"
            " WITH (m = 16, ef_construction = 64)"
        )
        build_s = time.perf_counter() - started
        sizes = {
            name: conn.execute("SELECT pg_relation_size(%s)", (name,)).fetchone()[0] / 2**20
            for name in ("papers_embedding_idx", BIT_INDEX)
        }
        top = conn.execute("SELECT max(id) FROM papers").fetchone()[0]
        rng = np.random.default_rng(5)
        picks = rng.choice(np.arange(1, top + 1), size=args.queries, replace=False)
        queries = []
        for pid in picks:
            vec = conn.execute(
                "SELECT embedding::vector FROM papers WHERE id = %s", (int(pid),)
            ).fetchone()[0]
            base = np.asarray(vec.to_numpy(), dtype=np.float32)
            noisy = base + rng.normal(0, 0.03, dim).astype(np.float32)
            queries.append(noisy / np.linalg.norm(noisy))
        conn.execute("SET hnsw.ef_search = 100")
        kinds: dict[str, tuple[list[float], list[float]]] = {}

        def record(kind: str, ids: list[int], ms: float, truth: list[int]) -> None:
            recall, times = kinds.setdefault(kind, ([], []))
            recall.append(len(set(ids) & set(truth)) / 10)
            times.append(ms)

        for q in queries:
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")
                truth, exact_ms = _timed(
                    conn,
                    "SELECT id FROM papers ORDER BY embedding <=> %s::vector::halfvec LIMIT 10",
                    (q,),
                )
            record("exact scan", truth, exact_ms, truth)
            ids, ms = _timed(
                conn,
                "SELECT id FROM papers ORDER BY embedding <=> %s::vector::halfvec LIMIT 10",
                (q,),
            )
            record("halfvec HNSW", ids, ms, truth)
            for k in (40, 100, 200):
                with conn.transaction():
                    conn.execute(f"SET LOCAL hnsw.ef_search = {max(k, 40)}")
                    ids, ms = _timed(
                        conn,
                        # dim and k are ints from this script, not input.
                        "SELECT id FROM (SELECT id, embedding FROM papers"  # noqa: S608
                        f" ORDER BY binary_quantize(embedding)::bit({dim})"
                        f" <~> binary_quantize(%s::vector)::bit({dim}) LIMIT {k}) c"
                        " ORDER BY embedding <=> %s::vector::halfvec LIMIT 10",
                        (q, q),
                    )
                record(f"bit HNSW + re-rank {k}", ids, ms, truth)
        if not args.keep_index:
            conn.execute(f"DROP INDEX {BIT_INDEX}")
    print(f"== {args.size:,} papers, {args.queries} queries; bit index built in {build_s:.0f} s")
    print(f"   index size: halfvec HNSW {sizes['papers_embedding_idx']:.1f} MB,")
    print(f"               bit HNSW {sizes[BIT_INDEX]:.1f} MB")
    print(f"   {'kind':26s} {'recall@10':>9s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for kind, (recall, times) in kinds.items():
        p95 = float(np.percentile(times, 95))
        print(
            f"   {kind:26s} {statistics.mean(recall):9.3f}"
            f" {statistics.median(times):8.1f} {p95:8.1f}"
        )


if __name__ == "__main__":
    main()
