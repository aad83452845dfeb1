"""Search latency at 100k / 300k / 1M papers: keyword, semantic, hybrid, filtered, similar.

    python benchmarks/search_speed.py --sizes 100000,300000 [--database-url URL] [--keep]

Corpus: titles and abstracts recombined from the seed abstracts' sentences and
titles, with about one word in twelve swapped for a made-up word drawn from a
Zipf-distributed vocabulary of 300,000, so the corpus has the long vocabulary
tail of real text instead of a few thousand words repeated a million times.
Vectors: every seed sentence and title is embedded once with the real model;
a paper's vector is the normalised mean of its sentences' vectors (title
counted twice) plus a little noise. Queries are embedded with the real model
at query time, and every latency includes that embedding.

Each size is loaded with COPY into its own database (indexes built after the
load, build times reported), analysed and vacuumed, warmed with one round, then
timed. Runtime is bounded by --rounds and --similar; the 1M build takes long:
run it in the background (nohup … &).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from paperfeed.db import Database, memory, prewarm  # noqa: E402
from paperfeed.index import backfill, lexical, search  # noqa: E402
from paperfeed.index.embed import DEFAULT_MODEL, MINILM, get_embedder  # noqa: E402
from paperfeed.index.hits import fetch_hits  # noqa: E402
from paperfeed.model import normalise_title  # noqa: E402

SHARED = ROOT.parent / "shared"
ORGS = [f"Lab {i}" for i in range(60)] + ["Google", "AI at Meta", "NVIDIA", "Ai2", "OpenBMB"]
EXTRA_QUERIES = [
    "diffusion models for video generation",
    "mixture of experts routing",
    "speculative decoding",
    "retrieval augmented generation hallucination",
    "vision language model benchmark",
    "reinforcement learning from human feedback",
    "quantization of large language models",
    "graph neural networks",
    "protein structure prediction",
    "contrastive self-supervised learning",
    "long context attention efficiency",
    "chain of thought reasoning",
    "federated learning privacy",
    "neural radiance fields",
    "instruction tuning data quality",
    "tokenizer vocabulary size",
    '"scaling laws" compute optimal',
    "sparse attention -vision",
    "knowledge distillation students",
    "robot manipulation policy learning",
    "code generation evaluation",
    "speech recognition",
    "optimizer warmup schedule",
    "adversarial robustness certification",
    "model merging weights",
]

# Words PostgreSQL's english configuration drops anyway, kept out of drawn queries.
_STOPWORDS = set(
    [
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "are",
        "our",
        "which",
        "can",
        "its",
        "these",
        "their",
        "than",
        "have",
        "has",
        "such",
        "been",
        "into",
        "also",
        "both",
        "while",
        "when",
        "not",
        "more",
        "most",
        "other",
        "only",
        "each",
        "over",
        "they",
        "was",
        "were",
        "how",
        "what",
        "where",
        "who",
        "why",
        "all",
        "any",
        "but",
        "them",
        "then",
        "there",
        "very",
    ]
)


class Corpus:
    """Deterministic synthetic papers and their vectors, recombined from the seeds."""

    def __init__(self, embedder: object, cache: Path, seed: int = 7) -> None:
        docs = [json.loads(line) for line in (SHARED / "eval" / "corpus.jsonl").open()]
        self.sentences = sorted(
            {
                s.strip()
                for d in docs
                for s in re.split(r"(?<=[.!?])\s+", d["abstract"])
                if len(s) > 30
            }
        )
        self.titles = [d["title"] for d in docs]
        cache_file = cache / f"seed_vectors_{getattr(embedder, 'name', 'model')}.npy"
        if cache_file.exists():
            vectors = np.load(cache_file)
        else:
            vectors = embedder.embed_documents(self.sentences + self.titles)
            np.save(cache_file, vectors)
        self.sentence_vecs = vectors[: len(self.sentences)].astype(np.float32)
        self.title_vecs = vectors[len(self.sentences) :].astype(np.float32)
        self.rng = np.random.default_rng(seed)
        syllables = ["qu", "or", "vix", "ta", "len", "dro", "mi", "sar", "ke", "pho", "zu", "ne"]
        gen = random.Random(seed)
        self.rare = [
            "".join(gen.choice(syllables) for _ in range(gen.randint(2, 4))) + str(i % 97)
            for i in range(300_000)
        ]

    def vocabulary_queries(self, n: int = 50, seed: int = 11) -> list[str]:
        """`n` queries of 1-4 words drawn from the corpus text by word frequency.

        Words are drawn as often as they occur, so most queries are made of
        words found in thousands of papers ("batch size", "efficient model"):
        what people type, and the queries whose every word is common, which
        the hand-written set above rarely has.
        """
        counts: dict[str, int] = {}
        for text in self.sentences + self.titles:
            for word in re.findall(r"[a-z]{3,}", text.lower()):
                if word not in _STOPWORDS:
                    counts[word] = counts.get(word, 0) + 1
        words = sorted(counts)
        weights = [counts[w] for w in words]
        gen = random.Random(seed)
        return [" ".join(gen.choices(words, weights, k=gen.randint(1, 4))) for _ in range(n)]

    def _mutate(self, text: str) -> str:
        words = text.split()
        swaps = self.rng.random(len(words)) < 1 / 12
        ranks = np.minimum(self.rng.zipf(1.3, len(words)), len(self.rare)) - 1
        pairs = zip(words, swaps, ranks, strict=True)
        return " ".join(self.rare[r] if s else w for w, s, r in pairs)

    def batch(self, start: int, n: int) -> list[tuple]:
        """Rows (title, abstract, day, org, github, upvotes, vector) for papers start..start+n."""
        rows = []
        for i in range(start, start + n):
            t = int(self.rng.integers(len(self.titles)))
            picks = self.rng.integers(len(self.sentences), size=int(self.rng.integers(4, 9)))
            title = f"{self._mutate(self.titles[t])} ({i})"
            abstract = self._mutate(" ".join(self.sentences[p] for p in picks))
            vec = self.sentence_vecs[picks].sum(0) + 2 * self.title_vecs[t]
            vec += self.rng.normal(0, 0.02, vec.shape[0]).astype(np.float32)
            vec /= np.linalg.norm(vec)
            day = date(2025, 12, 31) - timedelta(days=int(self.rng.exponential(700)) % 3650)
            org = ORGS[int(self.rng.integers(len(ORGS)))] if self.rng.random() < 0.4 else None
            code = f"https://github.com/x/{i}" if self.rng.random() < 0.3 else None
            upvotes = int(self.rng.zipf(1.8)) - 1
            rows.append((title, abstract, day, org, code, min(upvotes, 5000), vec))
        return rows


def load(
    url: str, corpus: Corpus, size: int, model: str, work_mem: str = "2GB"
) -> dict[str, float]:
    """COPY `size` papers in, then build the indexes; returns timings and sizes.

    `work_mem` is the index builds' maintenance_work_mem: an HNSW graph that
    outgrows it is finished on disk, several times slower (3M papers need ~4 GB).
    """
    out: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        blocks = conn.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'papers'::regclass"
        ).fetchall()
        names = [r[0] for r in blocks if r[0].startswith(lexical.BLOCK_INDEX)]
        for name in ("papers_search_idx", "papers_embedding_idx", "papers_unembedded_idx", *names):
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        started = time.perf_counter()
        now = datetime.now(UTC)
        done = 0
        while done < size:
            n = min(20_000, size - done)
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY papers (ident, title, norm_title, abstract, published_on, organization,"
                    " github_url, imported_upvotes, embedding, embedding_model, embedded_at)"
                    " FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                # Binary COPY: writing 384 floats per row as text took 5 of
                # every 12 seconds of the load (measured on 20k papers).
                copy.set_types(COPY_TYPES)
                for title, abstract, day, org, code, up, vec in corpus.batch(done, n):
                    copy.write_row(
                        (
                            f"title:{done}:{title[:40]}",
                            title,
                            normalise_title(title),
                            abstract,
                            day,
                            org,
                            code,
                            up,
                            HalfVector(vec),
                            model,
                            now,
                        )
                    )
                    done += 1
            print(f"  loaded {done}/{size}  {time.perf_counter() - started:.0f}s", flush=True)
        out["load_s"] = time.perf_counter() - started
        conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (work_mem,))
        conn.execute("SET max_parallel_maintenance_workers = 1")
        for key, ddl in (
            ("gin_build_s", "CREATE INDEX papers_search_idx ON papers USING gin (search)"),
            (
                "hnsw_build_s",
                "CREATE INDEX papers_embedding_idx ON papers USING hnsw"
                f" (embedding halfvec_cosine_ops) WITH ({backfill.HNSW_OPTIONS})",
            ),
            (
                "other_index_s",
                "CREATE INDEX papers_unembedded_idx ON papers (id) WHERE embedding IS NULL",
            ),
        ):
            started = time.perf_counter()
            conn.execute(ddl)
            out[key] = time.perf_counter() - started
            print(f"  {key} {out[key]:.0f}s", flush=True)
        started = time.perf_counter()
        lexical.ensure_blocks(url)
        out["block_gin_build_s"] = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE papers")
        for key, rel in (
            ("table_mb", "papers"),
            ("gin_mb", "papers_search_idx"),
            ("hnsw_mb", "papers_embedding_idx"),
        ):
            size_bytes = conn.execute("SELECT pg_total_relation_size(%s)", (rel,)).fetchone()[0]
            out[key] = size_bytes / 2**20
        out["block_gin_mb"] = (
            conn.execute(
                "SELECT sum(pg_relation_size(indexrelid)) FROM pg_index"
                " WHERE indrelid = 'papers'::regclass AND indexrelid::regclass::text LIKE %s",
                (lexical.BLOCK_INDEX + "%",),
            ).fetchone()[0]
            / 2**20
        )
    return out


COPY_TYPES = [
    "text", "text", "text", "text", "date", "text", "text", "integer", "halfvec", "text",
    "timestamptz",
]  # fmt: skip

# (ms, query) of every timed query per kind, for the --slowest report.
SLOWEST: dict[str, list[tuple[float, str]]] = {}


class TimedEmbedder:
    """Wraps the model to record how long each query embedding takes."""

    def __init__(self, inner: object, stored_as: str) -> None:
        self.inner = inner
        # The corpus vectors are labelled with the model that embedded the seed
        # sentences; the query model may be another runtime of the same network.
        self.name = stored_as
        self.dim = inner.dim
        self.last_ms = 0.0

    def embed_query(self, text: str) -> np.ndarray:
        started = time.perf_counter()
        vec = self.inner.embed_query(text)
        self.last_ms = (time.perf_counter() - started) * 1000
        return vec


def _semantic(db: Database, emb: TimedEmbedder, query: str) -> None:
    vec = emb.embed_query(query)
    with db.transaction() as conn:
        ranked = search.ranked_ids(
            conn, emb, query, search.Filters(), mode="semantic", query_vector=vec
        )
        fetch_hits(conn, [pid for pid, _ in ranked[:20]], None)


def measure(
    db: Database,
    emb: TimedEmbedder,
    queries: list[str],
    rounds: int,
    similar_n: int,
    vocabulary: list[str] = (),
    only: set[str] | None = None,
) -> dict:
    """(p50, p95, p95 without the query embedding, n) in ms per query kind, after a warm-up.

    The "(vocab)" kinds run the vocabulary-drawn queries; `only` limits the kinds run.
    A hybrid search embeds its query while the database finds the keyword list
    (search._semantic_ahead), so no time is "without the embedding" there: NaN.
    """
    recent = search.Filters(date_from=date(2024, 1, 1), has_code=True)
    fns = {
        "keyword": lambda q: search.search(db, None, q),
        "semantic": lambda q: _semantic(db, emb, q),
        "hybrid": lambda q: search.search(db, emb, q),
        "filtered hybrid": lambda q: search.search(db, emb, q, recent),
    }
    kinds = {kind: (fn, queries) for kind, fn in fns.items()}
    if vocabulary:
        for kind in ("keyword", "hybrid", "filtered hybrid"):
            kinds[f"{kind} (vocab)"] = (fns[kind], list(vocabulary))
    kinds = {k: v for k, v in kinds.items() if only is None or k in only}
    with db.connection() as conn:
        # A reload after TRUNCATE keeps the id sequence: ids start past 1.
        low, top = conn.execute("SELECT min(id), max(id) FROM papers").fetchone().values()
    ids = random.Random(3).sample(range(low, top + 1), similar_n)
    results = {}
    for kind, (fn, kind_queries) in kinds.items():
        for q in kind_queries:
            fn(q)
        total, database = [], []
        for _ in range(rounds):
            for q in kind_queries:
                emb.last_ms = 0.0
                started = time.perf_counter()
                fn(q)
                total.append((time.perf_counter() - started) * 1000)
                database.append(total[-1] - emb.last_ms)
                SLOWEST.setdefault(kind, []).append((total[-1], q))
        results[kind] = (total, [math.nan] if "hybrid" in kind else database)
    if only is not None and "similar" not in only:
        ids = []
    for pid in ids[:20]:
        search.similar(db, pid, 10)
    similar = []
    for pid in ids:
        started = time.perf_counter()
        search.similar(db, pid, 10)
        similar.append((time.perf_counter() - started) * 1000)
    if similar:
        results["similar"] = (similar, similar)
    embeds = []
    for q in queries:
        emb.embed_query(q)
        embeds.append(emb.last_ms)
    results["query embedding"] = (embeds, [0.0])
    return {
        k: (statistics.median(t), float(np.percentile(t, 95)), float(np.percentile(d, 95)), len(t))
        for k, (t, d) in results.items()
    }


def _prewarm(db: Database) -> float:
    """Seconds to read the papers table and its indexes into the page cache."""
    started = time.perf_counter()
    with db.connection() as conn:
        prewarm.ensure_extension(conn)
        for relation in prewarm.relations(conn):
            prewarm.read(conn, relation)
    return time.perf_counter() - started


def _server(args: argparse.Namespace) -> str:
    if args.database_url:
        return args.database_url
    import warnings

    warnings.simplefilter("ignore")
    from paperfeed.db import embedded

    home = Path(args.data_dir or tempfile.mkdtemp(prefix="pf-speed-"))
    return embedded.start(home)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--database-url", default=os.environ.get("PAPERFEED_DATABASE_URL", ""))
    ap.add_argument("--data-dir", help="Embedded server home (default: a new temp dir).")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="Model that embeds the queries.")
    ap.add_argument("--corpus-model", default=MINILM, help="Model that embeds the seed sentences.")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--similar", type=int, default=100)
    ap.add_argument("--keep", action="store_true", help="Keep (and reuse) the databases.")
    ap.add_argument("--vocabulary", type=int, default=50, help="Vocabulary-drawn queries.")
    ap.add_argument(
        "--no-blocks",
        action="store_true",
        help="Ignore keyword search's block indexes (times the whole-catalogue paths).",
    )
    ap.add_argument("--slowest", type=int, default=0, help="Print the N slowest per kind.")
    ap.add_argument("--only", help="Comma-separated kinds to time, e.g. 'keyword (vocab)'.")
    ap.add_argument(
        "--build-only",
        action="store_true",
        help="Load and index (with --keep) without timing: build while the machine is busy,"
        " time later when it is quiet.",
    )
    ap.add_argument("--maintenance-work-mem", default="2GB", help="For the index builds.")
    ap.add_argument(
        "--prewarm",
        action="store_true",
        help="Read the papers table and its indexes into memory before timing"
        " (what `paperfeed db prewarm` does).",
    )
    args = ap.parse_args()
    server = _server(args)
    if args.no_blocks:
        lexical._newest_first = lambda conn, indexed: None  # noqa: SLF001
    cache = Path(tempfile.gettempdir())
    corpus_model = get_embedder(args.corpus_model, cache)
    corpus = Corpus(corpus_model, cache)
    emb = TimedEmbedder(get_embedder(args.model, cache), corpus_model.name)
    print(f"corpus vectors: {corpus_model.name}; query embeddings: {args.model}")
    queries = [json.loads(line)["query"] for line in (SHARED / "eval" / "queries-dev.jsonl").open()]
    queries += EXTRA_QUERIES
    vocabulary = corpus.vocabulary_queries(args.vocabulary)
    only = set(args.only.split(",")) if args.only else None
    print(f"load average at start: {os.getloadavg()}", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        name = f"pf_speed_{size}"
        url = make_conninfo(server, dbname=name)
        with psycopg.connect(server, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists and not args.keep:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            if not exists or not args.keep:
                conn.execute(f'CREATE DATABASE "{name}"')
        db = Database(url, pool_size=2, name=f"speed-{uuid.uuid4().hex[:6]}")
        db.migrate()
        build: dict[str, float] = {}
        with db.connection() as conn:
            have = conn.execute("SELECT count(*) AS n FROM papers").fetchone()["n"]
        if have != size:
            print(f"== {size} papers: loading", flush=True)
            with db.connection() as conn:
                conn.execute("TRUNCATE papers CASCADE")
            build = load(url, corpus, size, emb.name, args.maintenance_work_mem)
        backfill.refresh_statistics(db)
        if args.build_only:
            db.close()
            print(f"\n== {size:,} papers built (load average {os.getloadavg()[0]:.1f})")
            for key, value in build.items():
                print(f"   {key:14s} {value:10.1f}")
            continue
        if args.prewarm:
            build["prewarm s"] = _prewarm(db)
        with db.pool.connection() as conn:
            # Huge pages change the HNSW walk's cost (docs/scaling.md §1.7): runs say which.
            print(memory.describe(memory.server_memory(conn)), flush=True)
        load_before = os.getloadavg()[0]
        stats = measure(db, emb, queries, args.rounds, args.similar, vocabulary, only)
        db.close()
        load_now = os.getloadavg()[0]
        print(f"\n== {size:,} papers (load average {load_before:.1f} before, {load_now:.1f} after)")
        for key, value in build.items():
            print(f"   {key:14s} {value:10.1f}")
        print(f"   {'kind':16s} {'p50 ms':>8s} {'p95 ms':>8s} {'p95 db':>8s} {'n':>5s}")
        for kind, (p50, p95, p95_db, n) in stats.items():
            db_ms = "—" if math.isnan(p95_db) else f"{p95_db:.1f}"
            print(f"   {kind:16s} {p50:8.1f} {p95:8.1f} {db_ms:>8s} {n:5d}")
        for kind, timed in SLOWEST.items() if args.slowest else ():
            worst = sorted(timed, reverse=True)[: args.slowest]
            print(f"   slowest {kind}: " + "; ".join(f"{q!r} {ms:.0f}" for ms, q in worst))
        SLOWEST.clear()
        if not args.keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
