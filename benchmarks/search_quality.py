"""Search quality on the development queries, and the relevance cut-off's precision and recall.

    python benchmarks/search_quality.py [--models minilm-l6-v2-onnx-int8-fused,…]
                                        [--per-query] [--calibrate]

Imports the seed pages into a fresh database (a temporary embedded PostgreSQL,
or a new database on PAPERFEED_DATABASE_URL's server), embeds every paper with
each model, runs the 26 queries of ../shared/eval/queries-dev-all.jsonl as
lexical (keyword-only), dense (semantic-only), hybrid (fused, every candidate)
and final (hybrid after the relevance cut-off, what users get) searches, maps
paperfeed ids to the evaluation ids by normalised title and scores them with
../shared/eval/ndcg.py on all 26, the original 15 (queries-dev.jsonl) and the
11 added later (queries-dev2.jsonl). Then the cut-off: precision (share of
returned papers graded >= 1) and recall (share of grade >= 2 papers returned)
over the dev queries, and the number of results for nonsense and off-corpus
queries (which must be 0). CPU is this process's (query embedding included);
the database's own work is in the wall time.

--calibrate refits the relevance model (search.RELEVANCE_*, KEYWORD_*) on the
fused top 100 of every dev query: a logistic regression of grade >= 1 on the
cosine and the keyword coverage, and prints the coefficients to paste, then
the precision, recall and nDCG@10 of each candidate cut-off twice: with the
fit on all 26 queries, and leaving each query out of the fit that scores it
(cross-validation: how the cut-off does on queries it was not fitted on).
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

import numpy as np
import psycopg
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from paperfeed import catalogue  # noqa: E402
from paperfeed.db import Database  # noqa: E402
from paperfeed.index import backfill, lexical, search  # noqa: E402
from paperfeed.model import title_id  # noqa: E402
from paperfeed.sources import listing  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
SEEDS = ROOT.parent / "shared" / "seeds"
# method -> (search mode, cut-off applied)
METHODS = {
    "lexical": ("keyword", False),
    "dense": ("semantic", False),
    "hybrid": ("hybrid", False),
    "final": ("hybrid", True),
}
# Queries no paper of an ML catalogue answers: gibberish, everyday requests,
# other fields. Each must return 0 results.
NONSENSE = [
    "qwxzzkjh",
    "asdf qwer zxcv",
    "zzzz",
    "lorem ipsum dolor sit amet",
    "the",
    "how do I make it stop",
    "banana bread recipe",
    "best pizza in naples",
    "how to fix a leaking tap",
    "football world cup results",
    "cheap flights to paris",
    "knitting patterns for beginners",
    "medieval french poetry",
    "stock market tips today",
    "tax return deadline",
    "quantum chromodynamics lattice gauge theory",
    "renaissance oil painting techniques",
]


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


def load_seeds(db: Database) -> None:
    """Migrate a fresh database and import the seed pages (the evaluation corpus)."""
    db.migrate()
    items = []
    for path in sorted(SEEDS.glob("*.txt")):
        items.extend(listing.parse(path.read_bytes(), str(path), 2025))
    catalogue.ingest(db, items, source="listing", origin="seeds")
    backfill.refresh_statistics(db)


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def run(
    db: Database, embedder: object, queries: list[dict], mode: str, cut: bool
) -> tuple[dict[str, list[str]], dict[str, int], float, float]:
    """Every query's results as evaluation ids (all), their counts, CPU and wall ms a query."""
    with db.connection() as conn:
        to_eval = {
            r["id"]: title_id(r["title"]) for r in conn.execute("SELECT id, title FROM papers")
        }
    out, counts = {}, {}
    cpu, wall = time.process_time(), time.perf_counter()
    for q in queries:
        with db.transaction() as conn:
            ranked = search.rank(
                conn,
                embedder,
                q["query"],
                search.Filters(),
                mode=mode,
                cutoff=search.CUTOFF if cut else None,
            )
        out[q["qid"]] = [to_eval[r.id] for r in ranked]
        counts[q["qid"]] = len(ranked)
    n = max(len(queries), 1)
    return (
        out,
        counts,
        (time.process_time() - cpu) * 1000 / n,
        (time.perf_counter() - wall) * 1000 / n,
    )


def cutoff_quality(found: dict[str, list[str]], qrels: dict) -> tuple[float, float, int]:
    """Precision (returned papers graded >= 1), recall (grade >= 2 papers returned), returned."""
    returned = [qrels[qid].get(pid, 0) for qid, ids in found.items() if qid in qrels for pid in ids]
    wanted = sum(1 for qid in found if qid in qrels for g in qrels[qid].values() if g >= 2)
    kept = sum(1 for g in returned if g >= 2)
    precision = sum(1 for g in returned if g >= 1) / len(returned) if returned else 0.0
    return precision, kept / wanted if wanted else 0.0, len(returned)


def calibrate(
    db: Database, embedder: object, queries: list[dict], qrels: dict, ndcg: object, subsets: dict
) -> None:
    """Fit and print the relevance model's coefficients on the dev queries' fused top 100,
    then what each candidate cut-off would keep under the fitted model."""
    from sklearn.linear_model import LogisticRegression

    with db.connection() as conn:
        to_eval = {
            r["id"]: title_id(r["title"]) for r in conn.execute("SELECT id, title FROM papers")
        }
    rows, labels, owners = [], [], []
    for q in queries:
        if q["qid"] not in qrels:
            continue
        vector = embedder.embed_query(q["query"])
        with db.transaction() as conn:
            ranked = search.rank(
                conn, embedder, q["query"], search.Filters(), query_vector=vector, cutoff=None
            )
            analysed = lexical.analyse(
                conn, lexical.parse(q["query"]), search._TERM_STATS.get(conn)
            )
            ids = [r.id for r in ranked[: search.DEPTH]]
            evidence = search._evidence(conn, ids, analysed, vector, embedder.name)
        for pid in ids:
            found = evidence[pid]
            rows.append([found.cosine or 0.0, found.coverage])
            labels.append(qrels[q["qid"]].get(to_eval[pid], 0) >= 1)
            owners.append((q["qid"], to_eval[pid]))
    x, y = np.array(rows), np.array(labels)
    both = LogisticRegression(C=10).fit(x, y)
    alone = LogisticRegression(C=10).fit(x[:, 1:], y)
    print(f"\ncalibration on {len(y)} (query, paper) pairs, {int(y.sum())} relevant:")
    print(f"RELEVANCE_COS = {both.coef_[0][0]:.2f}")
    print(f"RELEVANCE_COVERAGE = {both.coef_[0][1]:.2f}")
    print(f"RELEVANCE_BIAS = {both.intercept_[0]:.2f}")
    print(f"KEYWORD_COVERAGE = {alone.coef_[0][0]:.2f}")
    print(f"KEYWORD_BIAS = {alone.intercept_[0]:.2f}")
    p = both.predict_proba(x)[:, 1]
    # Leave one query out: each query's relevance from the fit on the other 25,
    # the estimate of how the calibrated cut-off does on queries it was not fitted on.
    held_out = np.zeros(len(y))
    qids = np.array([qid for qid, _ in owners])
    for qid in sorted(set(qids)):
        mine = qids == qid
        fit = LogisticRegression(C=10).fit(x[~mine], y[~mine])
        held_out[mine] = fit.predict_proba(x[mine])[:, 1]
    _cutoff_table("fitted on all 26", owners, p, qrels, ndcg, subsets)
    _cutoff_table("leave one query out", owners, held_out, qrels, ndcg, subsets)


def _cutoff_table(
    label: str, owners: list, p: np.ndarray, qrels: dict, ndcg: object, subsets: dict
) -> None:
    """What each candidate cut-off keeps when (query, paper) pairs have relevance p."""
    wanted = sum(1 for qid in qrels for g in qrels[qid].values() if g >= 2)
    print(f"\nrelevance {label}:")
    print(f"{'cut-off':>8s} {'precision':>9s} {'recall':>7s} {'kept':>5s}  nDCG@10 per subset")
    for cut in (0.03, 0.05, search.CUTOFF, 0.08, 0.1, 0.15, 0.2, 0.3):
        kept: dict[str, list[str]] = {}
        for (qid, pid), prob in zip(owners, p, strict=True):
            if prob >= cut:
                kept.setdefault(qid, []).append(pid)
        grades = [qrels[qid].get(pid, 0) for qid, ids in kept.items() for pid in ids]
        precision = sum(g >= 1 for g in grades) / max(len(grades), 1)
        recall = sum(g >= 2 for g in grades) / max(wanted, 1)
        parts = []
        for name, subset in subsets.items():
            judged = {q: qrels[q] for q in subset if q in qrels}
            means = ndcg.evaluate({q: kept.get(q, []) for q in judged}, judged)[0]
            parts.append(f"{name} {means['ndcg@10']:.4f}")
        scores = " ".join(parts)
        print(f"{cut:8.2f} {precision:9.3f} {recall:7.3f} {len(grades):5d}  {scores}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--models",
        default=os.environ.get("PAPERFEED_EMBEDDING_MODEL", "minilm-l6-v2-onnx-int8-fused"),
        help="Comma-separated embedding models to compare.",
    )
    ap.add_argument("--eval-dir", type=Path, default=EVAL)
    ap.add_argument("--database-url", default=os.environ.get("PAPERFEED_DATABASE_URL", ""))
    ap.add_argument("--per-query", action="store_true")
    ap.add_argument("--calibrate", action="store_true")
    args = ap.parse_args()
    from paperfeed.index.embed import get_embedder

    ndcg = _scorer(args.eval_dir)
    qrels = ndcg.read_qrels(args.eval_dir / "qrels-dev-all.tsv")
    queries = _read(args.eval_dir / "queries-dev-all.jsonl")
    subsets = {
        "dev (26)": {q["qid"] for q in queries},
        "first 15": {q["qid"] for q in _read(args.eval_dir / "queries-dev.jsonl")},
        "new 11": {q["qid"] for q in _read(args.eval_dir / "queries-dev2.jsonl")},
    }
    unanswerable = [q for q in queries if q["qid"] not in qrels]
    nonsense = [{"qid": f"x{i:02d}", "query": text} for i, text in enumerate(NONSENSE)]
    server = _server(args.database_url)
    name, url = _fresh_database(server)
    db = Database(url, pool_size=2)
    rows, cuts, counts = [], [], []
    try:
        load_seeds(db)
        for model in args.models.split(","):
            embedder = get_embedder(model, Path(tempfile.gettempdir()))
            backfill.embed_pending(db, embedder)
            for method, (mode, cut) in METHODS.items():
                found, _, cpu, wall = run(
                    db, embedder if mode != "keyword" else None, queries, mode, cut
                )
                for label, subset in subsets.items():
                    part = {q: found[q][:100] for q in subset if q in found}
                    result = ndcg.evaluate(part, {q: qrels[q] for q in subset if q in qrels})
                    rows.append((method, embedder.name, label, cpu, wall, result))
                if method == "final":
                    cuts.append((embedder.name, cutoff_quality(found, qrels)))
                    _, n_odd, _, _ = run(db, embedder, unanswerable + nonsense, mode, cut)
                    counts.append((embedder.name, n_odd))
            if args.calibrate:
                calibrate(db, embedder, queries, qrels, ndcg, subsets)
    finally:
        db.close()
        drop_database(server, name)
    _report(rows, cuts, counts, unanswerable + nonsense, args.per_query)


def _report(rows: list, cuts: list, counts: list, odd: list[dict], per_query: bool) -> None:
    print(
        f"\n{'method':8s} {'model':30s} {'queries':9s} {'nDCG@10':>8s} {'R@100':>7s}"
        f" {'MRR@10':>7s} {'CPU ms/q':>9s} {'wall ms/q':>9s}"
    )
    for method, model, label, cpu, wall, (means, _, per) in rows:
        print(
            f"{method:8s} {model:30s} {label:9s} {means['ndcg@10']:8.4f}"
            f" {means['recall@100']:7.4f} {means['mrr@10']:7.4f} {cpu:9.1f} {wall:9.1f}"
        )
        if per_query and label == "dev (26)":
            for qid, m in per.items():
                print(
                    f"    {qid} " + " ".join(f"{k}={v:.3f}" for k, v in m.items() if v is not None)
                )
    print(
        f"\ncut-off {search.CUTOFF}: precision = returned papers graded >= 1,"
        " recall = grade >= 2 papers returned (dev queries, every result)"
    )
    for model, (precision, recall, returned) in cuts:
        print(f"  {model:30s} precision {precision:.3f}  recall {recall:.3f}  returned {returned}")
    print("\nresults for unanswerable, nonsense and off-corpus queries (must be 0):")
    for model, n in counts:
        total = sum(n.values())
        print(f"  {model}: {total} in all")
        for q in odd:
            print(f"    {n[q['qid']]:4d}  {q['query']}")


if __name__ == "__main__":
    main()
