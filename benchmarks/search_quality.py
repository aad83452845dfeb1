"""Search quality on the development queries: nDCG@10, Recall@100, MRR@10 per method.

    python benchmarks/search_quality.py [--models minilm-l6-v2,OTHER] [--per-query]

Imports the seed pages into a fresh database (a temporary embedded PostgreSQL,
or a new database on PAPERFEED_DATABASE_URL's server), embeds every paper with
each model, runs the 15 queries of ../shared/eval/queries-dev.jsonl as
keyword-only, semantic-only and hybrid searches, maps paperfeed ids to the
evaluation ids by normalised title and scores them with ../shared/eval/ndcg.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from paperfeed import catalogue  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.index import backfill, search  # noqa: E402
from paperfeed.model import title_id  # noqa: E402
from paperfeed.sources import listing  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SEEDS = ROOT.parent / "shared" / "seeds"
MODES = ("keyword", "semantic", "hybrid")


def _scorer(eval_dir: Path):
    spec = importlib.util.spec_from_file_location("ndcg", eval_dir / "ndcg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _server(database_url: str) -> str:
    if database_url:
        return database_url
    warnings.simplefilter("ignore")
    from paperfeed.db import embedded

    return embedded.start(Path(tempfile.mkdtemp(prefix="pf-quality-")))


def _fresh_database(server: str) -> tuple[str, str]:
    name = f"pf_quality_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, make_conninfo(server, dbname=name)


def run(db: Database, embedder: object, queries: list[dict], mode: str) -> dict[str, list[str]]:
    """Every query's top 100 as evaluation ids."""
    with db.connection() as conn:
        to_eval = {
            r["id"]: title_id(r["title"]) for r in conn.execute("SELECT id, title FROM papers")
        }
    out = {}
    for q in queries:
        with db.transaction() as conn:
            ranked = search.ranked_ids(conn, embedder, q["query"], search.Filters(), mode=mode)
        out[q["qid"]] = [to_eval[pid] for pid, _ in ranked[:100]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--models",
        default=os.environ.get("PAPERFEED_EMBEDDING_MODEL", "minilm-l6-v2"),
        help="Comma-separated embedding models to compare.",
    )
    ap.add_argument("--eval-dir", type=Path, default=EVAL)
    ap.add_argument("--database-url", default=os.environ.get("PAPERFEED_DATABASE_URL", ""))
    ap.add_argument("--per-query", action="store_true")
    args = ap.parse_args()
    from paperfeed.index.embed import get_embedder

    ndcg = _scorer(args.eval_dir)
    qrels = ndcg.read_qrels(args.eval_dir / "qrels-dev.tsv")
    queries = [json.loads(line) for line in (args.eval_dir / "queries-dev.jsonl").open()]
    server = _server(args.database_url)
    name, url = _fresh_database(server)
    db = Database(url, pool_size=2)
    try:
        db.migrate()
        items = []
        for path in sorted(SEEDS.glob("*.txt")):
            items.extend(listing.parse(path.read_bytes(), str(path), 2025))
        catalogue.ingest(db, items, source="listing", origin="seeds")
        backfill.refresh_statistics(db)
        rows = []
        keyword = ndcg.evaluate(run(db, None, queries, "keyword"), qrels)
        rows.append(("keyword (BM25-style)", "-", "-", keyword))
        for model in args.models.split(","):
            embedder = get_embedder(model, Path(tempfile.gettempdir()))
            started = time.perf_counter()
            count = backfill.embed_pending(db, embedder)
            rate = count / (time.perf_counter() - started)
            for mode in ("semantic", "hybrid"):
                result = ndcg.evaluate(run(db, embedder, queries, mode), qrels)
                rows.append((mode, embedder.name, f"{rate:.0f}/s", result))
    finally:
        db.close()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"\n{'method':22s} {'model':22s} {'embed':>8s} {'nDCG@10':>8s} {'R@100':>7s} {'MRR@10':>7s}"
    )
    for method, model, rate, (means, _, per_query) in rows:
        print(
            f"{method:22s} {model:22s} {rate:>8s} {means['ndcg@10']:8.4f}"
            f" {means['recall@100']:7.4f} {means['mrr@10']:7.4f}"
        )
        if args.per_query:
            for qid, m in per_query.items():
                print(
                    f"    {qid} " + " ".join(f"{k}={v:.3f}" for k, v in m.items() if v is not None)
                )


if __name__ == "__main__":
    main()
