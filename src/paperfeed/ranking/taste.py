"""The taste model behind the for-you feed: interest centroids and the scoring rule.

Pure numpy, no database: `recommend` stores and feeds it, `benchmarks/recommend.py`
measures it. A user's taste is a few interest centroids (running means of their
positives) plus their positives and negatives themselves; a candidate scores by
how close it is to its nearest positives and interest, minus how close it is to
a paper the user dismissed. docs/personal.md gives the measurements behind the
constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_SLOTS = 8
# A positive joins an interest when its cosine to the centroid is at least this.
JOIN_SIMILARITY = 0.45
# Scoring weights (chosen by the benchmark): the k nearest positives count most.
KNN_K = 2
INTEREST_WEIGHT = 0.3
NEGATIVE_WEIGHT = 0.6
# Below this cosine a "not interested" paper says nothing about a candidate.
NEGATIVE_FLOOR = 0.3


def normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        norm = float(np.linalg.norm(matrix))
        return matrix / norm if norm else matrix
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


@dataclass
class Interests:
    """A user's interest centroids: running means with their weights."""

    centroids: list[np.ndarray] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    # 'library' (learnt) or 'topic' (picked at cold start), and that topic's id.
    origins: list[str] = field(default_factory=list)
    topic_ids: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.centroids)

    def matrix(self) -> np.ndarray:
        """The unit-length centroids as an (m, dim) matrix."""
        return normalise(np.vstack(self.centroids)) if self.centroids else np.zeros((0, 0))

    def add_topic(self, centroid: np.ndarray, topic_id: int) -> None:
        """Seed an interest from a topic the user picked (cold start)."""
        if topic_id in self.topic_ids:
            return
        if len(self) >= MAX_SLOTS:
            self._merge_closest()
        self._append(normalise(centroid), 1.0, "topic", topic_id)

    def fold(self, vector: np.ndarray) -> int:
        """Fold one positive in; return the slot it went to."""
        x = normalise(vector)
        if self.centroids:
            sims = self.matrix() @ x
            best = int(np.argmax(sims))
            if sims[best] >= JOIN_SIMILARITY:
                self._update(best, x)
                return best
            if len(self) >= MAX_SLOTS:
                # Make room rather than smear a new interest into an old one.
                self._merge_closest()
        self._append(x, 1.0, "library", None)
        return len(self) - 1

    def _append(self, centroid: np.ndarray, weight: float, origin: str, topic: int | None) -> None:
        self.centroids.append(np.asarray(centroid, dtype=np.float32))
        self.weights.append(weight)
        self.origins.append(origin)
        self.topic_ids.append(topic)

    def _update(self, slot: int, x: np.ndarray) -> None:
        w = self.weights[slot]
        self.centroids[slot] = self.centroids[slot] + (x - self.centroids[slot]) / (w + 1.0)
        self.weights[slot] = w + 1.0
        # A picked topic that the user's own papers confirm becomes a learnt interest.
        self.origins[slot] = "library"

    def _merge_closest(self) -> None:
        m = self.matrix()
        sims = m @ m.T
        np.fill_diagonal(sims, -np.inf)
        a, b = np.unravel_index(int(np.argmax(sims)), sims.shape)
        wa, wb = self.weights[a], self.weights[b]
        self.centroids[a] = (self.centroids[a] * wa + self.centroids[b] * wb) / (wa + wb)
        self.weights[a] = wa + wb
        if self.origins[b] == "library":
            self.origins[a] = "library"
        for seq in (self.centroids, self.weights, self.origins, self.topic_ids):
            del seq[b]


@dataclass(frozen=True)
class Scored:
    """Scores of candidates plus, for each, the index of its nearest positive and interest."""

    scores: np.ndarray
    nearest_positive: np.ndarray  # -1 when the user has no positives
    nearest_similarity: np.ndarray
    nearest_interest: np.ndarray  # -1 when the user has no interests


def score(
    candidates: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    interests: np.ndarray,
    mean: np.ndarray | None = None,
) -> Scored:
    """Score candidate vectors against a user's positives, negatives and interests.

    With `mean` (the corpus mean), every vector is centred first: all papers
    share a large common component, and removing it makes cosines tell topics
    apart (+3 to +20 points of precision@10 in the benchmark).
    """
    if mean is not None and len(mean):
        candidates, positives, negatives, interests = (
            _centre(m, mean) for m in (candidates, positives, negatives, interests)
        )
    n = len(candidates)
    cand = normalise(candidates) if n else np.zeros((0, 0), dtype=np.float32)
    total = np.zeros(n, dtype=np.float32)
    nearest = np.full(n, -1)
    nearest_sim = np.zeros(n, dtype=np.float32)
    nearest_interest = np.full(n, -1)
    if n == 0:
        return Scored(total, nearest, nearest_sim, nearest_interest)
    knn_weight = 1.0
    if len(interests):
        sims = cand @ normalise(interests).T
        nearest_interest = np.argmax(sims, axis=1)
        total += INTEREST_WEIGHT * sims.max(axis=1)
        knn_weight = 1.0 - INTEREST_WEIGHT
    if len(positives):
        sims = cand @ normalise(positives).T
        k = min(KNN_K, sims.shape[1])
        top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
        total += knn_weight * top.mean(axis=1)
        nearest = np.argmax(sims, axis=1)
        nearest_sim = sims[np.arange(n), nearest]
    elif len(interests):
        total /= INTEREST_WEIGHT  # topic picks only: the interest term is the whole score
    if len(negatives):
        sims = cand @ normalise(negatives).T
        total -= NEGATIVE_WEIGHT * np.clip(sims.max(axis=1) - NEGATIVE_FLOOR, 0.0, None)
    return Scored(total, nearest, nearest_sim, nearest_interest)


def _centre(matrix: np.ndarray, mean: np.ndarray) -> np.ndarray:
    if not len(matrix):
        return matrix
    return normalise(np.asarray(matrix, dtype=np.float32)) - mean


def build_interests(positives: np.ndarray, topics: list[tuple[int, np.ndarray]] = ()) -> Interests:
    """Interests from scratch: the picked topics, then every positive folded in order."""
    interests = Interests()
    for topic_id, centroid in topics:
        interests.add_topic(centroid, topic_id)
    for row in positives:
        interests.fold(row)
    return interests
