"""Latency half of benchmarks/recommend.py: for-you requests against N papers in PostgreSQL."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from paperfeed.app import Paperfeed
from paperfeed.catalogue import accounts, library
from paperfeed.config import Settings
from paperfeed.ranking import recommend, topics
from recommend_data import seed_corpus, synthetic_vectors

USERS = 20
SAVES = 20
DISLIKES = 5


def _vector_text(row: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.4f}" for x in row) + "]"


def _load(pf: Paperfeed, n: int, seed: dict, rng: np.random.Generator) -> np.ndarray:
    """Insert n synthetic papers (COPY, then one HNSW build); return their topics."""
    vectors, chosen = synthetic_vectors(seed, n, rng)
    titles = seed["titles"]
    first = date(2023, 1, 1)
    with pf.db.transaction() as conn:
        # Building the graph once after the load is far faster than n inserts into it.
        conn.execute("DROP INDEX IF EXISTS papers_embedding_idx")
    for start in range(0, n, 20_000):
        with (
            pf.db.transaction() as conn,
            conn.cursor() as cur,
            cur.copy(
                "COPY papers (ident, title, norm_title, abstract, listed_on, published_on,"
                " embedding, embedding_model) FROM STDIN"
            ) as copy,
        ):
            for i in range(start, min(n, start + 20_000)):
                parent = titles[int(rng.integers(len(titles)))]
                day = first + timedelta(days=int(i * 1000 / n))
                title = f"{parent} (variant {i})"
                copy.write_row(
                    (
                        f"bench:{i}",
                        title,
                        title.lower(),
                        f"A study related to {parent}.",
                        day,
                        day,
                        _vector_text(vectors[i]),
                        "bench",
                    )
                )
        print(f"  loaded {min(n, start + 20_000)} papers", flush=True)
    started = time.perf_counter()
    with pf.db.connection() as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE INDEX papers_embedding_idx ON papers"
            " USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        conn.execute("ANALYZE papers")
    print(f"  HNSW index built in {time.perf_counter() - started:.0f} s", flush=True)
    return chosen


def latency(args) -> list[tuple[str, str]]:
    rng = np.random.default_rng(11)
    seed = seed_corpus(args.cache)
    home = args.cache / f"latency-{args.papers}"
    settings = Settings.from_env(
        {}, home=Path(home), database_url=args.database_url, secret_key="bench"
    )
    rows: list[tuple[str, str]] = [("papers", str(args.papers))]
    with Paperfeed(settings) as pf:
        with pf.db.connection() as conn:
            have = conn.execute("SELECT count(*) AS n FROM papers").fetchone()["n"]
        if have < args.papers:
            started = time.perf_counter()
            _load(pf, args.papers - have, seed, rng)
            rows.append(("load + HNSW build (s)", f"{time.perf_counter() - started:.0f}"))
        started = time.perf_counter()
        with pf.db.connection() as conn:
            has_map = conn.execute("SELECT count(*) AS n FROM topic_maps").fetchone()["n"]
        if not has_map or args.rebuild_topics:
            topics.build(pf.db)
            seconds = f"{time.perf_counter() - started:.1f}"
            rows.append(("topics build: 50k sample, assign all (s)", seconds))
        users = []
        with pf.db.transaction() as conn:
            conn.execute("DELETE FROM users")
            ids = [
                r["id"]
                for r in conn.execute(
                    "SELECT id FROM papers ORDER BY random() LIMIT %s",
                    (USERS * (SAVES + DISLIKES),),
                ).fetchall()
            ]
            for u in range(USERS):
                user = accounts.create_user(conn, f"bench{u}@example.org", "correct horse battery")
                mine = ids[u * (SAVES + DISLIKES) : (u + 1) * (SAVES + DISLIKES)]
                for pid in mine[:SAVES]:
                    library.save(conn, user.id, pid)
                for pid in mine[SAVES:]:
                    library.not_interested(conn, user.id, pid)
                users.append(user.id)
        with pf.db.connection() as conn:
            newest = conn.execute("SELECT max(listed_on) AS d FROM papers").fetchone()["d"]
        for label, since in (("all papers", None), ("past month", newest - timedelta(days=31))):
            timings = []
            for i in range(args.requests):
                started = time.perf_counter()
                picks = recommend.for_you(pf.db, users[i % len(users)], 20, since)
                timings.append(1000 * (time.perf_counter() - started))
                assert picks, "a user with saved papers got an empty feed"
            p50, p95 = np.percentile(timings, [50, 95])
            rows.append(
                (
                    f"for-you, {label}: p50 / p95 / max (ms)",
                    f"{p50:.1f} / {p95:.1f} / {max(timings):.1f}",
                )
            )
        started = time.perf_counter()
        with pf.db.transaction() as conn:
            library.save(conn, users[0], ids[-1])
        rows.append(
            (
                "save + incremental profile update (ms)",
                f"{1000 * (time.perf_counter() - started):.1f}",
            )
        )
    if args.papers <= 300_000 and not args.skip_svm:
        from sklearn.svm import LinearSVC

        vectors, _ = synthetic_vectors(seed, args.papers, np.random.default_rng(1))
        y = np.zeros(len(vectors))
        y[:SAVES] = 1
        started = time.perf_counter()
        LinearSVC(class_weight="balanced", C=0.01, max_iter=10_000, tol=1e-6, dual="auto").fit(
            vectors, y
        )
        rows.append(
            (
                "arxiv-sanity SVM: one retrain over all papers (ms)",
                f"{1000 * (time.perf_counter() - started):.0f}",
            )
        )
    return rows
