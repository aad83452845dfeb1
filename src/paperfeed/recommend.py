"""The for-you feed: a per-user taste model over paper embeddings, with a reason per pick.

A user's taste is kept as a few *interest* centroids (at most MAX_SLOTS): each
positive (a saved or upvoted paper) is folded into the nearest one as a running
mean, or opens a new one when it is far from all of them. That update costs
O(slots × dim) per action, so nothing is ever retrained over the corpus.

The feed for a request:
1. candidates: the nearest papers to each interest centroid, from the HNSW index;
2. score: how close a candidate is to the user's positives (the mean of its
   k nearest positives, plus its nearest interest), minus a penalty for being
   close to a paper the user marked "not interested";
3. reason: the positive the candidate is closest to ("close to X in your
   library"), or the topic the user picked at cold start.
The scoring rule was chosen by `benchmarks/recommend.py` (see docs/personal.md).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import psycopg

from paperfeed import topics as topic_map
from paperfeed.db import Database

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


# --- The feed, over the database -------------------------------------------

# Candidates drawn from the HNSW index per request, shared among the interests.
CANDIDATES = 200
MIN_PER_INTEREST = 30
# Scoring reads at most this many of the newest positives and negatives.
MAX_POSITIVES = 1_000
MAX_NEGATIVES = 500
# A pick matching one of the user's saved searches gets this bonus (and that reason).
SAVED_SEARCH_BONUS = 0.05


@dataclass(frozen=True)
class Pick:
    """One for-you pick: the paper, its score, and why it was picked."""

    paper_id: int
    score: float
    reason: str
    # 'library' | 'vote' | 'topic' | 'search': what the reason points at.
    reason_kind: str
    reason_paper_id: int | None = None
    reason_label: str = ""


def _np(value: object) -> np.ndarray:
    """A vector column value (Vector, HalfVector or array) as float32 numpy."""
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


def _positives(conn: psycopg.Connection, user_id: int, after: datetime | None) -> list[dict]:
    """The user's positives (saved or upvoted; once each), oldest first, with vectors."""
    return conn.execute(
        "WITH pos AS (SELECT paper_id, min(at) AS at, bool_or(saved) AS saved FROM ("
        "   SELECT paper_id, saved_at AS at, true AS saved FROM library_items WHERE user_id = %s"
        "   UNION ALL SELECT paper_id, created_at, false FROM votes WHERE user_id = %s) x"
        "  GROUP BY paper_id)"
        " SELECT pos.paper_id, pos.at, pos.saved, p.title, p.embedding FROM pos"
        " JOIN papers p ON p.id = pos.paper_id"
        " WHERE (%s::timestamptz IS NULL OR pos.at > %s) ORDER BY pos.at, pos.paper_id",
        (user_id, user_id, after, after),
        binary=True,
    ).fetchall()


def _load_interests(conn: psycopg.Connection, user_id: int) -> Interests:
    rows = conn.execute(
        "SELECT centroid, weight, origin, topic_id FROM user_interests"
        " WHERE user_id = %s ORDER BY slot",
        (user_id,),
        binary=True,
    ).fetchall()
    interests = Interests()
    for r in rows:
        interests._append(_np(r["centroid"]), float(r["weight"]), r["origin"], r["topic_id"])
    return interests


def _store_interests(conn: psycopg.Connection, user_id: int, interests: Interests) -> None:
    conn.execute("DELETE FROM user_interests WHERE user_id = %s", (user_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO user_interests (user_id, slot, centroid, weight, origin, topic_id)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (user_id, slot, interests.centroids[slot], interests.weights[slot],
                 interests.origins[slot], interests.topic_ids[slot])
                for slot in range(len(interests))
            ],
        )


def refresh_profile(conn: psycopg.Connection, user_id: int) -> Interests:
    """Bring the user's interests up to date with their positives; return them.

    New positives are folded in one by one (the common case: a save or a vote).
    When positives were removed (or arrived out of order), the interests are
    rebuilt from the user's own positives only, which is still per-user work.
    """
    conn.execute(
        "INSERT INTO user_profiles (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user_id,)
    )
    # The row lock serialises two requests of one user updating the same profile.
    profile = conn.execute(
        "SELECT positives, folded_until FROM user_profiles WHERE user_id = %s FOR UPDATE",
        (user_id,),
    ).fetchone()
    summary = conn.execute(
        "SELECT count(*) AS n, max(at) AS last FROM ("
        " SELECT paper_id, min(at) AS at FROM ("
        "  SELECT paper_id, saved_at AS at FROM library_items WHERE user_id = %s"
        "  UNION ALL SELECT paper_id, created_at FROM votes WHERE user_id = %s) x"
        " GROUP BY paper_id) y",
        (user_id, user_id),
    ).fetchone()
    interests = _load_interests(conn, user_id)
    if summary["n"] == profile["positives"] and summary["last"] == profile["folded_until"]:
        return interests
    new = _positives(conn, user_id, profile["folded_until"])
    if profile["positives"] + len(new) != summary["n"]:
        topics = [
            (t, c) for t, c, o in zip(interests.topic_ids, interests.centroids, interests.origins)
            if o == "topic" and t is not None
        ]
        interests = Interests()
        for topic_id, centroid in topics:
            interests.add_topic(centroid, topic_id)
        new = _positives(conn, user_id, None)
    for row in new:
        if row["embedding"] is not None:
            interests.fold(_np(row["embedding"]))
    _store_interests(conn, user_id, interests)
    conn.execute(
        "UPDATE user_profiles SET positives = %s, folded_until = %s, updated_at = now()"
        " WHERE user_id = %s",
        (summary["n"], summary["last"], user_id),
    )
    return interests


def pick_topics(conn: psycopg.Connection, user_id: int, topic_ids: list[int]) -> int:
    """Cold start: seed the user's interests with topics from the topic map; return how many."""
    interests = refresh_profile(conn, user_id)
    rows = conn.execute(
        "SELECT id, centroid FROM topics WHERE id = ANY(%s)", (topic_ids,), binary=True
    ).fetchall()
    for r in rows:
        interests.add_topic(_np(r["centroid"]), r["id"])
    _store_interests(conn, user_id, interests)
    return len(rows)


def _candidates(
    conn: psycopg.Connection, queries: np.ndarray, since: date | None, exclude: set[int]
) -> dict[int, np.ndarray]:
    """Nearest papers to each interest, from the HNSW index (iterative scan when filtered)."""
    per = max(MIN_PER_INTEREST, -(-CANDIDATES // max(len(queries), 1)))
    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(max(100, per)),))
    conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
    found: dict[int, np.ndarray] = {}
    for query in queries:
        rows = conn.execute(
            "SELECT id, embedding FROM papers WHERE embedding IS NOT NULL"
            " AND (%s::date IS NULL OR coalesce(listed_on, published_on) >= %s)"
            " ORDER BY embedding <=> %s::halfvec LIMIT %s",
            (since, since, query.astype(np.float32), per + len(exclude)),
            binary=True,
        ).fetchall()
        for r in rows:
            if r["id"] not in exclude:
                found.setdefault(r["id"], _np(r["embedding"]))
    return found


def _negatives(conn: psycopg.Connection, user_id: int) -> list[dict]:
    return conn.execute(
        "SELECT f.paper_id, p.embedding FROM feedback f JOIN papers p ON p.id = f.paper_id"
        " WHERE f.user_id = %s ORDER BY f.created_at DESC LIMIT %s",
        (user_id, MAX_NEGATIVES),
        binary=True,
    ).fetchall()


def _saved_search_matches(
    conn: psycopg.Connection, user_id: int, paper_ids: list[int]
) -> dict[int, str]:
    """Paper id → the first of the user's saved searches (search subscriptions) it matches."""
    rows = conn.execute(
        "SELECT DISTINCT ON (p.id) p.id, s.query FROM subscriptions s"
        " JOIN papers p ON p.id = ANY(%s)"
        " WHERE s.user_id = %s AND s.kind = 'search' AND s.status IN ('active', 'pending')"
        "   AND s.query <> '' AND p.search @@ websearch_to_tsquery('english', s.query)"
        " ORDER BY p.id, s.id",
        (paper_ids, user_id),
    ).fetchall()
    return {r["id"]: r["query"] for r in rows}


def picks(
    conn: psycopg.Connection, user_id: int, limit: int = 20, since: date | None = None
) -> list[Pick]:
    """The user's for-you picks, best first, inside the request's transaction."""
    interests = refresh_profile(conn, user_id)
    if not len(interests):
        return []
    every_positive = _positives(conn, user_id, None)
    every_negative = _negatives(conn, user_id)
    seen = {r["paper_id"] for r in every_positive} | {r["paper_id"] for r in every_negative}
    positives = [r for r in every_positive[-MAX_POSITIVES:] if r["embedding"] is not None]
    negatives = [r for r in every_negative if r["embedding"] is not None]
    found = _candidates(conn, interests.matrix(), since, seen)
    if not found:
        return []
    ids = list(found)
    pos_matrix = np.vstack([_np(r["embedding"]) for r in positives]) if positives else np.zeros((0, 0))
    neg_matrix = np.vstack([_np(r["embedding"]) for r in negatives]) if negatives else np.zeros((0, 0))
    scored = score(
        np.vstack([found[i] for i in ids]), pos_matrix, neg_matrix, interests.matrix(),
        topic_map.corpus_mean(conn),
    )
    totals = scored.scores.astype(np.float64)
    searches = _saved_search_matches(conn, user_id, ids)
    for index, pid in enumerate(ids):
        if pid in searches:
            totals[index] += SAVED_SEARCH_BONUS
    order = np.argsort(-totals, kind="stable")[:limit]
    labels = topic_map.labels(conn, [t for t in interests.topic_ids if t is not None])
    out = []
    for index in order:
        pid = ids[int(index)]
        out.append(_explain(pid, float(totals[index]), int(scored.nearest_positive[index]),
                            int(scored.nearest_interest[index]), positives, interests,
                            searches.get(pid), labels))
    return out


def _explain(
    paper_id: int,
    total: float,
    nearest: int,
    interest: int,
    positives: list[dict],
    interests: Interests,
    search: str | None,
    labels: dict[int, str],
) -> Pick:
    if search is not None:
        return Pick(paper_id, total, f"matches your saved search “{search}”", "search",
                    reason_label=search)
    if interest >= 0 and interests.origins[interest] == "topic":
        label = labels.get(interests.topic_ids[interest] or 0, "a topic you picked")
        return Pick(paper_id, total, f"in your topic “{label}”", "topic", reason_label=label)
    if nearest >= 0:
        row = positives[nearest]
        where = "your library" if row["saved"] else "papers you upvoted"
        kind = "library" if row["saved"] else "vote"
        return Pick(paper_id, total, f"close to “{row['title']}” in {where}", kind,
                    row["paper_id"], row["title"])
    return Pick(paper_id, total, "close to your interests", "topic")


def for_you(db: Database, user_id: int, limit: int = 20, since: date | None = None) -> list[Pick]:
    """The user's for-you picks (paper id, score, reason), in one transaction of its own."""
    with db.transaction() as conn:
        return picks(conn, user_id, limit, since)


def feed_token(conn: psycopg.Connection, secret_key: str, user_id: int) -> str:
    """The private token of the user's for-you Atom feed: "<user id>-<HMAC>"."""
    conn.execute(
        "INSERT INTO user_profiles (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user_id,)
    )
    version = conn.execute(
        "SELECT feed_token_version AS v FROM user_profiles WHERE user_id = %s", (user_id,)
    ).fetchone()["v"]
    return f"{user_id}-{_feed_mac(secret_key, user_id, version)}"


def _feed_mac(secret_key: str, user_id: int, version: int) -> str:
    message = f"for-you-feed:{user_id}:{version}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


def feed_user(conn: psycopg.Connection, secret_key: str, token: str) -> int | None:
    """The user a feed token belongs to, or None when it is malformed or revoked."""
    user_part, _, mac = token.partition("-")
    if not user_part.isdigit() or len(user_part) > 18 or not mac:
        return None
    row = conn.execute(
        "SELECT feed_token_version AS v FROM user_profiles WHERE user_id = %s", (int(user_part),)
    ).fetchone()
    if row is None:
        return None
    expected = _feed_mac(secret_key, int(user_part), row["v"])
    return int(user_part) if hmac.compare_digest(mac, expected) else None


def rotate_feed_token(conn: psycopg.Connection, user_id: int) -> None:
    """Revoke the current feed URL (a new token is derived from the next version)."""
    conn.execute(
        "INSERT INTO user_profiles (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user_id,)
    )
    conn.execute(
        "UPDATE user_profiles SET feed_token_version = feed_token_version + 1 WHERE user_id = %s",
        (user_id,),
    )
