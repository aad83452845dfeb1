"""Benchmark of the for-you feed: quality against baselines, and latency at scale.

    python benchmarks/recommend.py                 # quality + latency at 300k papers
    python benchmarks/recommend.py --papers 20000  # a quicker latency run
    python benchmarks/recommend.py --skip-latency
    python benchmarks/recommend.py --calibrate-digest --skip-latency --skip-quality

Quality: simulated users on the seed corpus (243 real papers, MiniLM vectors)
and on seed + synthetic papers. Each user's interest is a hidden set of topics
(clusters of the seed corpus by tf-idf, i.e. by words, not by the vectors the
recommenders see). The user saves a few relevant papers; we measure precision@10
of each method on the relevant papers not saved, then the user reacts to those
ten (saves the relevant, marks the others "not interested") and we measure the
next ten. Methods: recency (newest first), arxiv-sanity's SVM retrained from
scratch on the whole corpus per request, and paperfeed's for-you scoring.

--calibrate-digest: the for-you digest's threshold (recommend.DIGEST_MIN_SCORE).
The same simulated users; every week a random share of the corpus is "new",
and the digest would mail the week's top picks (at most 10) scoring at least
the threshold. For each candidate threshold: precision (mailed papers of the
user's hidden topics), recall (the week's relevant papers among the top 10
that are mailed) and the share of weeks that mail nothing, on the seed corpus
and on seed + synthetic papers.

Latency: a PostgreSQL database with N synthetic papers (halfvec + HNSW, the real
migrations), users with saved papers, and `recommend.for_you` timed per request.
"""

from __future__ import annotations

import argparse
import json
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


DIGEST_THRESHOLDS = tuple(round(0.025 * i, 3) for i in range(17))  # 0 … 0.4
# Share of the corpus that is new in a simulated week, and the digest's length.
WEEK_SHARE = 0.15
DIGEST_PAPERS = 10


def topic_readers(
    corpus: dict, users: int, saves: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, list[int]]]:
    """Simulated users as in `simulate`: (relevant papers as a mask, saved papers)."""
    topics = corpus["topics"]
    n_topics = int(topics.max()) + 1
    sizes = np.bincount(topics, minlength=n_topics)
    eligible = [t for t in range(n_topics) if sizes[t] >= saves + 10]
    readers = []
    for _ in range(users):
        chosen = rng.choice(eligible, size=int(rng.integers(1, 4)), replace=False)
        pool = np.flatnonzero(np.isin(topics, chosen[: max(1, len(chosen) - 1)]))
        saved = [int(i) for i in rng.choice(pool, size=saves, replace=False)]
        readers.append((np.isin(topics, chosen), saved))
    return readers


def judged_readers(
    corpus: dict, users: int, saves: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, list[int]]]:
    """Users from people's judgments: the reader of a dev search query wants the papers
    graded >= 1 for it (../shared/eval/qrels-dev-all.tsv) and saved `saves` of them
    (queries with at least saves + 2 relevant papers)."""
    from recommend_data import SEED_CORPUS

    lines = SEED_CORPUS.read_text().splitlines()
    row = {json.loads(line)["id"]: i for i, line in enumerate(line for line in lines if line)}
    wants: dict[str, list[int]] = {}
    for line in (SEED_CORPUS.parent / "qrels-dev-all.tsv").read_text().splitlines():
        qid, _, pid, grade = line.split()
        if int(grade) >= 1 and pid in row:
            wants.setdefault(qid, []).append(row[pid])
    groups = [w for w in wants.values() if len(w) >= saves + 2]
    readers = []
    for k in rng.integers(0, len(groups), size=users):
        mask = np.zeros(len(corpus["vectors"]), dtype=bool)
        mask[groups[k]] = True
        readers.append((mask, [int(i) for i in rng.choice(groups[k], size=saves, replace=False)]))
    return readers


def digest_calibration(
    vectors: np.ndarray,
    readers: list[tuple[np.ndarray, list[int]]],
    weeks: int,
    rng: np.random.Generator,
) -> list[tuple[float, float, float, float, float]]:
    """(threshold, precision, recall, empty-week share, papers a digest) per threshold.

    Every week a random WEEK_SHARE of the corpus is new and the digest would mail
    the week's top DIGEST_PAPERS for-you picks scoring at least the threshold.
    Precision: mailed papers the user wants. Recall: of the wanted papers among
    the week's top picks (what a digest without a threshold mails), the share
    still mailed."""
    mean = vectors.mean(axis=0)
    tally = {t: [0, 0, 0, 0] for t in DIGEST_THRESHOLDS}  # mailed, wanted mailed, wanted, empty
    for relevant, saved in readers:
        scores = foryou_scores(vectors, saved, [], mean)
        for _ in range(weeks):
            new = np.flatnonzero(rng.random(len(vectors)) < WEEK_SHARE)
            new = new[~np.isin(new, saved)]
            top = new[np.argsort(-scores[new], kind="stable")][:DIGEST_PAPERS]
            wanted = int(relevant[top].sum())
            for t, row in tally.items():
                mailed = top[scores[top] >= t]
                row[0] += len(mailed)
                row[1] += int(relevant[mailed].sum())
                row[2] += wanted
                row[3] += int(len(mailed) == 0)
    digests = max(len(readers) * weeks, 1)
    return [
        (t, good / max(mailed, 1), good / max(wanted, 1), empty / digests, mailed / digests)
        for t, (mailed, good, wanted, empty) in tally.items()
    ]


def calibrate_digest(args: argparse.Namespace) -> None:
    """Print the digest threshold table: readers of the dev queries' judgments on the
    seed corpus, topic readers on the seed corpus and on seed + synthetic papers."""
    rng = np.random.default_rng(RNG_SEED)
    seed = seed_corpus(args.cache)
    cases = [
        ("judged readers, seed", seed["vectors"], judged_readers(seed, args.users, 3, rng)),
        ("topic readers, seed", seed["vectors"], topic_readers(seed, args.users, args.saves, rng)),
    ]
    if args.synthetic:
        synthetic = corpus_with_synthetic(seed, args.synthetic, rng)
        readers = topic_readers(synthetic, args.synthetic_users, args.saves, rng)
        cases.append((f"topic readers, +{args.synthetic}", synthetic["vectors"], readers))
    print(
        f"\nfor-you digest threshold: top {DIGEST_PAPERS} of a week"
        f" ({WEEK_SHARE:.0%} of the corpus new), {args.weeks} weeks a user;"
        f" judged readers saved 3 papers, topic readers {args.saves}"
    )
    print(
        f"{'users':<26} {'threshold':>9} {'precision':>9} {'recall':>7} {'F1':>6}"
        f" {'empty':>6} {'mailed':>7}"
    )
    f1s: dict[float, list[float]] = {}
    for label, vectors, readers in cases:
        for t, precision, recall, empty, mailed in digest_calibration(
            vectors, readers, args.weeks, rng
        ):
            f1 = 2 * precision * recall / max(precision + recall, 1e-9)
            if "seed" in label:
                f1s.setdefault(t, []).append(f1)
            print(
                f"{label:<26} {t:>9.3f} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f}"
                f" {empty:>6.3f} {mailed:>7.2f}"
            )
    best = max(f1s, key=lambda t: (float(np.mean(f1s[t])), t))
    print(
        f"highest mean F1 of the seed-corpus readers: threshold {best}"
        f" (F1 {np.mean(f1s[best]):.3f}); DIGEST_MIN_SCORE is {recommend.DIGEST_MIN_SCORE}"
    )


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
    parser.add_argument(
        "--calibrate-digest", action="store_true", help="the for-you digest threshold table"
    )
    parser.add_argument("--weeks", type=int, default=5, help="simulated weeks a user (digest)")
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
    if args.calibrate_digest:
        calibrate_digest(args)
    if not args.skip_latency:
        from recommend_latency import latency

        table = latency(args)
        print(f"\nfor-you latency, {args.requests} requests, {20} users with 20 saves + 5 dislikes")
        for name, value in table:
            print(f"{name:<52} {value:>24}")


if __name__ == "__main__":
    main()
