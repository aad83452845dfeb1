"""Benchmark of the for-you feed: quality against baselines, and latency at scale.

    python benchmarks/recommend.py                 # quality + latency at 300k papers
    python benchmarks/recommend.py --papers 20000  # a quicker latency run
    python benchmarks/recommend.py --skip-latency

Quality: simulated users on the seed corpus (243 real papers, MiniLM vectors)
and on seed + synthetic papers. Each user's interest is a hidden set of topics
(clusters of the seed corpus by tf-idf, i.e. by words, not by the vectors the
recommenders see). The user saves a few relevant papers; we measure precision@10
of each method on the relevant papers not saved, then the user reacts to those
ten (saves the relevant, marks the others "not interested") and we measure the
next ten. Methods: recency (newest first), arxiv-sanity's SVM retrained from
scratch on the whole corpus per request, and paperfeed's for-you scoring.

Latency: a PostgreSQL database with N synthetic papers (halfvec + HNSW, the real
migrations), users with saved papers, and `recommend.for_you` timed per request.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paperfeed.ranking import recommend  # noqa: E402
from recommend_data import (  # noqa: E402
    corpus_with_synthetic,
    seed_corpus,
)

RNG_SEED = 7


def svm_scores(vectors: np.ndarray, pos: list[int], neg: list[int], c: float) -> np.ndarray:
    """arxiv-sanity: a LinearSVC over the whole corpus, positives against everything else."""
    from sklearn.svm import LinearSVC

    y = np.zeros(len(vectors))
    y[pos] = 1
    clf = LinearSVC(class_weight="balanced", C=c, max_iter=10_000, tol=1e-6, dual="auto")
    clf.fit(vectors, y)
    return clf.decision_function(vectors)


def foryou_scores(
    vectors: np.ndarray, pos: list[int], neg: list[int], mean: np.ndarray | None
) -> np.ndarray:
    """paperfeed: interests folded one by one, then the for-you scoring rule over the corpus."""
    interests = recommend.build_interests(vectors[pos])
    matrix = interests.matrix()
    return recommend.score(vectors, vectors[pos], vectors[neg], matrix, mean).scores


def centroid_scores(vectors: np.ndarray, pos: list[int], neg: list[int]) -> np.ndarray:
    """The simplest learnt rule, for reference: cosine to the mean of the positives."""
    profile = recommend.normalise(vectors[pos].mean(axis=0))
    if neg:
        profile = recommend.normalise(profile - 0.3 * recommend.normalise(vectors[neg].mean(0)))
    return vectors @ profile


def recency_scores(dates: np.ndarray, pos: list[int], neg: list[int]) -> np.ndarray:
    return dates.astype(np.float64)


def top_unseen(scores: np.ndarray, seen: set[int], k: int) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    return [int(i) for i in order if int(i) not in seen][:k]


def simulate(corpus: dict, methods: dict, users: int, saves: int, rng: np.random.Generator) -> dict:
    """Precision@10 per method, before and after one round of feedback, averaged over users."""
    topics = corpus["topics"]
    n_topics = int(topics.max()) + 1
    sizes = np.bincount(topics, minlength=n_topics)
    eligible = [t for t in range(n_topics) if sizes[t] >= saves + 10]
    results = {name: [[], []] for name in methods}
    for _ in range(users):
        chosen = rng.choice(eligible, size=int(rng.integers(1, 4)), replace=False)
        relevant = set(np.flatnonzero(np.isin(topics, chosen)).tolist())
        # A user starts from papers of one or two of their topics, not all of them.
        pool = np.flatnonzero(np.isin(topics, chosen[: max(1, len(chosen) - 1)]))
        pos = [int(i) for i in rng.choice(pool, size=saves, replace=False)]
        for name, method in methods.items():
            scores = method(pos, [])
            shown = top_unseen(scores, set(pos), 10)
            results[name][0].append(sum(i in relevant for i in shown) / 10)
            pos2 = pos + [i for i in shown if i in relevant]
            neg2 = [i for i in shown if i not in relevant]
            scores = method(pos2, neg2)
            nxt = top_unseen(scores, set(pos) | set(shown), 10)
            results[name][1].append(sum(i in relevant for i in nxt) / 10)
    return {name: (float(np.mean(a)), float(np.mean(b))) for name, (a, b) in results.items()}


def _methods(corpus: dict, timings: dict[str, list[float]]) -> dict:
    """Each method as f(positives, negatives) -> scores over the corpus, timed."""
    vec, dates = corpus["vectors"], corpus["dates"]
    mean = vec.mean(axis=0)

    def timed(name, fn):
        def run(pos, neg):
            started = time.perf_counter()
            out = fn(pos, neg)
            timings.setdefault(name, []).append(time.perf_counter() - started)
            return out

        return run

    return {
        "recency": timed("recency", lambda p, n: recency_scores(dates, p, n)),
        "svm (arxiv-sanity, C=0.01)": timed("svm001", lambda p, n: svm_scores(vec, p, n, 0.01)),
        "svm (C=1)": timed("svm1", lambda p, n: svm_scores(vec, p, n, 1.0)),
        "centroid": timed("centroid", lambda p, n: centroid_scores(vec, p, n)),
        "for-you, uncentred": timed("foryou0", lambda p, n: foryou_scores(vec, p, n, None)),
        "for-you (paperfeed)": timed("foryou", lambda p, n: foryou_scores(vec, p, n, mean)),
    }


def quality(args: argparse.Namespace) -> list[tuple[str, str, float, float, float]]:
    """Precision@10 rows: (corpus, method, before feedback, after feedback, ms per request)."""
    rng = np.random.default_rng(RNG_SEED)
    rows = []
    seed = seed_corpus(args.cache)
    corpora = [("seed (243)", seed, args.users)]
    if args.synthetic:
        synthetic = corpus_with_synthetic(seed, args.synthetic, rng)
        corpora.append((f"seed+synthetic ({args.synthetic})", synthetic, args.synthetic_users))
    for label, corpus, users in corpora:
        timings: dict[str, list[float]] = {}
        methods = _methods(corpus, timings)
        res = simulate(corpus, methods, users, args.saves, rng)
        for (name, (p1, p2)), key in zip(res.items(), timings, strict=True):
            rows.append((label, name, p1, p2, 1000 * float(np.mean(timings[key]))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=200, help="simulated users per corpus")
    parser.add_argument("--saves", type=int, default=5, help="papers each user saves first")
    parser.add_argument("--synthetic", type=int, default=10_000, help="synthetic papers added")
    parser.add_argument(
        "--synthetic-users", type=int, default=40, help="simulated users on the synthetic corpus"
    )
    parser.add_argument("--papers", type=int, default=300_000, help="papers for the latency run")
    parser.add_argument("--requests", type=int, default=200, help="timed for-you requests")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--rebuild-topics", action="store_true", help="re-cluster a cached DB")
    parser.add_argument("--skip-svm", action="store_true", help="skip the SVM retrain timing")
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/.cache"))
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL for the latency run (default: embedded)"
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if not args.skip_quality:
        rows = quality(args)
        print(f"\nprecision@10, simulated users, {args.saves} saves each, then one feedback round")
        print(
            f"{'corpus':<26} {'method':<28} {'P@10':>6} "
            f"{'P@10 after feedback':>20} {'ms/request':>11}"
        )
        for label, name, p1, p2, ms in rows:
            print(f"{label:<26} {name:<28} {p1:>6.3f} {p2:>20.3f} {ms:>11.1f}")
    if not args.skip_latency:
        from recommend_latency import latency

        table = latency(args)
        print(f"\nfor-you latency, {args.requests} requests, {20} users with 20 saves + 5 dislikes")
        for name, value in table:
            print(f"{name:<52} {value:>24}")


if __name__ == "__main__":
    main()
