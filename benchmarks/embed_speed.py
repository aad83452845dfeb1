"""Embedding backends compared: throughput, speed-up, dev nDCG@10, fidelity, query latency.

    python benchmarks/embed_speed.py [--synthetic 2000] [--rounds 2] [--data-dir DIR] [--no-static]

Backends: `minilm-l6-v2` (sentence-transformers, float32: the reference and the
baseline of the speed-up), `minilm-l6-v2-onnx-int8` and
`minilm-l6-v2-onnx-int8-fused` (ONNX Runtime int8, the second with BERT operator
fusion; exported once into DATA_DIR) and a static model2vec distillation of the same
MiniLM, `minilm-l6-v2-m2v-256` (measured and rejected; distilled once into
DATA_DIR/models in about two minutes; needs the `skeletoken` package).

Throughput is measured on the 243 seed abstracts (best of --rounds) and on
--synthetic abstracts recombined from the seed sentences (benchmarks/synthetic.py),
in chunks; the backends take turns chunk by chunk so that other load on the
machine slows them alike. CPU ms/doc is process CPU time, which other load
barely changes. Quality is dense retrieval of the 15 dev queries over the seed
corpus (numpy dot products, no database), scored with ../shared/eval/ndcg.py;
"cos to ref" is the mean (min) cosine between a backend's and the reference's
vector of each seed paper. Query latency is embed_query over the dev queries,
five times each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import Generator  # noqa: E402
from paperfeed.index import embed  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
sys.path.insert(0, str(EVAL))
import ndcg  # noqa: E402

# Synthetic abstracts per turn: backends take turns chunk by chunk.
CHUNK = 250


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSON-lines file."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


CORPUS = read_jsonl(EVAL / "corpus.jsonl")
SEED = [embed.document_text(d["title"], d["abstract"]) for d in CORPUS]
DEV = read_jsonl(EVAL / "queries-dev.jsonl")
QUERIES = [q["query"] for q in DEV]


class StaticEmbedder(embed.Embedder):
    """MiniLM distilled into static token vectors by model2vec (PCA to 256 dimensions)."""

    name = "minilm-l6-v2-m2v-256"
    dim = 256

    def __init__(self, cache_dir: Path) -> None:
        self.path = cache_dir / self.name
        self._model: Any = None

    def _load(self) -> Any:
        from model2vec import StaticModel

        if self._model is None:
            if not self.path.exists():
                from model2vec.distill import distill

                model = distill(model_name=str(embed.minilm_dir()), pca_dims=256, device="cpu")
                model.save_pretrained(str(self.path))
            self._model = StaticModel.from_pretrained(str(self.path))
        return self._model

    def embed_documents(self, texts: list[str], batch_size: int = 1024) -> np.ndarray:
        """Embed texts as normalised means of static token vectors."""
        vectors = self._load().encode(texts, batch_size=batch_size, show_progress_bar=False)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.astype(np.float32)


class Stopwatch:
    """Wall and process-CPU seconds spent inside its `with` blocks, summed."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


@dataclass
class Timings:
    """What one backend did: its seed passes, its synthetic chunks, its seed-paper vectors."""

    first_use: Stopwatch = field(default_factory=Stopwatch)
    seed_rounds: list[Stopwatch] = field(default_factory=list)
    synthetic: Stopwatch = field(default_factory=Stopwatch)
    vectors: np.ndarray = field(default_factory=lambda: np.empty(0))


def dev_ndcg(docs: np.ndarray, queries: np.ndarray) -> float:
    """nDCG@10 of ranking the seed papers by dot product with each dev query."""
    run = {
        q["qid"]: [CORPUS[i]["id"] for i in np.argsort(-scores, kind="stable")[:100]]
        for q, scores in zip(DEV, queries @ docs.T, strict=True)
    }
    means, _, _ = ndcg.evaluate(run, ndcg.read_qrels(EVAL / "qrels-dev.tsv"))
    return means["ndcg@10"]


def row(model: embed.Embedder, t: Timings, reference: np.ndarray, n_synthetic: int) -> dict:
    """One table row: rates from the timings, then quality and query latency measured now."""
    latencies = []
    for text in QUERIES * 5:
        with Stopwatch() as watch:
            model.embed_query(text)
        latencies.append(watch.wall * 1000)
    best = min(t.seed_rounds, key=lambda w: w.wall)
    if t.vectors.shape == reference.shape:
        cos = (t.vectors * reference).sum(axis=1)
        fidelity = f"{cos.mean():.4f} ({cos.min():.3f})"
    else:
        fidelity = "other space"
    return {
        "first_use": t.first_use.wall,
        "seed_rate": len(SEED) / best.wall,
        "synth_rate": n_synthetic / t.synthetic.wall,
        "cpu_ms": 1000 * best.cpu / len(SEED),
        "ndcg": dev_ndcg(t.vectors, model.embed_documents(QUERIES)),
        "fidelity": fidelity,
        "p50": statistics.median(latencies),
    }


def main() -> None:
    """Measure every backend and print one table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synthetic", type=int, default=2000, help="recombined abstracts to embed")
    ap.add_argument("--rounds", type=int, default=2, help="passes over the seed abstracts")
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=platformdirs.user_cache_path("paperfeed") / "bench",
        help="where the exported and distilled models are cached",
    )
    ap.add_argument("--no-static", action="store_true", help="skip the model2vec backend")
    args = ap.parse_args()
    if args.synthetic < 1 or args.rounds < 1:
        ap.error("--synthetic and --rounds must be at least 1")
    papers = Generator(seed=1).papers(args.synthetic)
    synthetic = [embed.document_text(p["title"], p["abstract"]) for p in papers]

    backends: dict[str, embed.Embedder] = {
        name: embed.get_embedder(name, args.data_dir) for name in embed.MODELS
    }
    if not args.no_static:
        backends[StaticEmbedder.name] = StaticEmbedder(args.data_dir / "models")
    load_before = os.getloadavg()[0]

    timings = {name: Timings() for name in backends}
    for name, model in list(backends.items()):
        try:
            with timings[name].first_use:
                model.embed_query("warm up")
        except ImportError as exc:  # model2vec.distill without skeletoken
            print(f"skipping {name}: {exc}", file=sys.stderr)
            del backends[name]

    # Backends take turns, round by round and chunk by chunk, so that load from
    # other processes on the machine falls on all of them alike.
    for _ in range(args.rounds):
        for name, model in backends.items():
            with Stopwatch() as watch:
                timings[name].vectors = model.embed_documents(SEED)
            timings[name].seed_rounds.append(watch)
    for start in range(0, len(synthetic), CHUNK):
        for name, model in backends.items():
            with timings[name].synthetic:
                model.embed_documents(synthetic[start : start + CHUNK])

    reference = timings[embed.MINILM].vectors
    rows = {
        name: row(model, timings[name], reference, len(synthetic))
        for name, model in backends.items()
    }
    base = rows[embed.MINILM]
    header = (
        f"| backend | first use s | docs/s seed {len(SEED)} | docs/s synthetic {len(synthetic)}"
        " | speed-up | CPU ms/doc | nDCG@10 | Δ nDCG | cos to ref mean (min) | query p50 ms |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, r in rows.items():
        print(
            f"| {name} | {r['first_use']:.1f} | {r['seed_rate']:.1f} | {r['synth_rate']:.1f}"
            f" | {r['synth_rate'] / base['synth_rate']:.1f}x | {r['cpu_ms']:.1f}"
            f" | {r['ndcg']:.4f} | {r['ndcg'] - base['ndcg']:+.4f} | {r['fidelity']}"
            f" | {r['p50']:.1f} |"
        )
    print(
        f"\n{os.cpu_count()} CPUs, {embed.DEFAULT_THREADS} threads per backend; load average"
        f" {load_before:.1f} before, {os.getloadavg()[0]:.1f} after. Speed-up: synthetic docs/s"
        " over the reference's. First use includes exporting or distilling when not cached."
    )


if __name__ == "__main__":
    main()
