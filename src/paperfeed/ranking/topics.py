"""The topic map: clusters of paper embeddings with readable labels, placed on a 2-D map.

`build` clusters a sample of the catalogue's vectors with mini-batch k-means,
labels each cluster with its most distinctive words (over the titles and
abstracts of the sample), fixes a linear 2-D layout (topics on the two principal
axes of the centroids, each paper near its topic) and then assigns every paper
to its nearest topic. It
replaces the previous map in one transaction, so readers never see half a map.

`assign_new` places papers that arrived since: nearest centroid and the same
projection, no re-clustering. Run `paperfeed topics build` now and then (e.g.
weekly) and `paperfeed topics assign` after each ingest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import psycopg

from paperfeed.db import Database

SAMPLE = 50_000
MAX_TOPICS = 60
CHUNK = 20_000
LABEL_TERMS = 3
# How far a paper sits from its topic's centre on the map, relative to the
# distance it has in embedding space (smaller: tighter, better separated blobs).
SPREAD = 0.5
_WORD = re.compile(r"[a-z][a-z0-9\-]{2,}")
# Words that say nothing about a topic in a corpus of research abstracts.
_STOP = frozenset(
    """
    a about above across after again against all almost also although always among an and
    another any are as at based be been before being below between both but by can could
    different do does done due during each either et etc every few for from further given
    has have having here how however if in into is it its itself just large less may more
    most much must new non not novel of often on one only or other our over paper per
    propose proposed provide results same several should show shows significant since so
    some such than that the their them then there these they this those three through thus
    to two under up upon use used using various very via was we well were what when where
    which while who whose why will with within without work would yet approach approaches
    method methods model models task tasks performance state art existing study demonstrate
    achieve achieves first introduce present framework data experiments extensive recent
    adding assess modern able allow allows enable enables including key leverage leveraging
    make makes obtain
    """.split()  # noqa: SIM905 - a word list reads best as prose
)


@dataclass(frozen=True)
class Topic:
    """A topic of the active map."""

    id: int
    label: str
    terms: list[str]
    papers: int
    x: float
    y: float


def _np(value: object) -> np.ndarray:
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def default_k(papers: int) -> int:
    """Number of topics for a corpus: about sqrt(n/2), between 2 and MAX_TOPICS."""
    return max(2, min(MAX_TOPICS, round(math.sqrt(papers / 2))))


def _tokens(text: str) -> list[str]:
    """Words and two-word phrases (never spanning a stop word) of a text."""
    raw = [w.strip("-") for w in _WORD.findall(text.lower())]
    keep = [w if len(w) > 2 and w not in _STOP else None for w in raw]
    words = [w for w in keep if w]
    return words + [f"{a} {b}" for a, b in zip(keep, keep[1:], strict=False) if a and b]


def _term_score(n: int, size: int, overall: int, total: int) -> float:
    """How well a term marks a cluster: its share there, its lift over the other
    clusters, and its rarity overall (measured on the seed corpus against plain
    c-TF-IDF, which labels every language-model cluster "language · llms")."""
    share = n / size
    outside = (overall - n + 1) / (total - size + 1)
    return share * math.log(share / outside) * math.log(total / overall)


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def label_clusters(
    texts: list[str],
    clusters: np.ndarray,
    k: int,
    phrases: list[list[str]] | None = None,
) -> list[list[str]]:
    """Each cluster's most distinctive terms: class-based tf-idf over its texts.

    `phrases`: each text's key phrases (index/phrases.py, or Hugging Face's),
    counted as terms of their own: "graph neural networks" labels a topic
    better than the word pair "graph neural".
    """
    counts: list[dict[str, int]] = [{} for _ in range(k)]
    for index, (text, cluster) in enumerate(zip(texts, clusters, strict=True)):
        bucket = counts[int(cluster)]
        extra = {p.lower() for p in phrases[index]} if phrases else set()
        for token in set(_tokens(text)) | extra:
            bucket[token] = bucket.get(token, 0) + 1
    overall: dict[str, int] = {}
    for bucket in counts:
        for token, n in bucket.items():
            overall[token] = overall.get(token, 0) + n
    sizes = np.bincount(clusters, minlength=k)
    labels = []
    for c in range(k):
        size = max(int(sizes[c]), 1)
        scored = sorted(
            (_term_score(n, size, overall[token], len(texts)) * (1.2 if " " in token else 1), token)
            for token, n in counts[c].items()
            if n >= 2 or size < 4
        )
        chosen: list[str] = []
        for _, token in reversed(scored):
            words = {_stem(w) for w in token.split()}
            # "language" adds nothing next to "language models", nor "model training".
            if any(words & {_stem(w) for w in t.split()} for t in chosen):
                continue
            chosen.append(token)
            if len(chosen) == 8:
                break
        labels.append(chosen)
    return labels


def _sample(conn: psycopg.Connection, size: int) -> list[dict]:
    total = conn.execute("SELECT count(*) AS n FROM papers WHERE embedding IS NOT NULL").fetchone()
    fraction = min(100.0, 100.0 * size / max(total["n"], 1) * 1.2)
    return conn.execute(
        "SELECT id, title, left(abstract, 1500) AS abstract, embedding,"
        " (SELECT s.key_phrases FROM paper_summaries s WHERE s.paper_id = papers.id)"
        "   AS key_phrases"
        " FROM papers TABLESAMPLE BERNOULLI (%s) REPEATABLE (0)"
        " WHERE embedding IS NOT NULL LIMIT %s",
        (fraction, size),
        binary=True,
    ).fetchall()


def build(db: Database, k: int | None = None, *, sample: int = SAMPLE, seed: int = 0) -> int:
    """Cluster the catalogue into a new topic map, replacing the old one; return its id."""
    from sklearn.cluster import MiniBatchKMeans

    with db.transaction() as conn:
        rows = _sample(conn, sample)
        if len(rows) < 2:
            raise ValueError("the topic map needs at least two papers with embeddings")
        vectors = _unit(np.vstack([_np(r["embedding"]) for r in rows]))
        k = min(k or default_k(len(rows)), len(rows))
        kmeans = MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=4096)
        clusters = kmeans.fit_predict(vectors)
        centroids = _unit(kmeans.cluster_centers_.astype(np.float32))
        mean = vectors.mean(axis=0)
        # The layout is linear and fixed, so later papers land on the same map: topics sit
        # where the two principal axes *of the centroids* put them (which spreads topics
        # apart far better than the papers' own axes), and each paper near its topic.
        _, _, vt = np.linalg.svd(centroids - centroids.mean(axis=0), full_matrices=False)
        axes = vt[:2].astype(np.float32)
        if len(axes) < 2:
            axes = np.vstack([axes, np.zeros_like(axes[0])])
        terms = label_clusters(
            [f"{r['title']}. {r['abstract']}" for r in rows],
            clusters,
            k,
            [r.get("key_phrases") or [] for r in rows],
        )

        conn.execute("DELETE FROM topic_maps")
        map_id = conn.execute(
            "INSERT INTO topic_maps (papers, mean, axis_x, axis_y) VALUES (%s, %s, %s, %s)"
            " RETURNING id",
            (len(rows), mean, axes[0], axes[1]),
        ).fetchone()["id"]
        centre_xy = (centroids - mean) @ axes.T
        for c in range(k):
            label = " · ".join(terms[c][:LABEL_TERMS]) or f"topic {c + 1}"
            conn.execute(
                "INSERT INTO topics (map_id, label, terms, centroid, x, y)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    map_id,
                    label,
                    terms[c],
                    centroids[c],
                    float(centre_xy[c, 0]),
                    float(centre_xy[c, 1]),
                ),
            )
        _assign(conn, only_new=False)
    return map_id


def build_first(db: Database, min_papers: int) -> int | None:
    """Draw the first topic map once `min_papers` papers have vectors (the scheduler calls
    this, so a fresh install gets its map after the first import); None while there is
    a map already or too few papers."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM topic_maps) AS has_map, (SELECT count(*) FROM"
            " (SELECT 1 FROM papers WHERE embedding IS NOT NULL LIMIT %s) s) AS embedded",
            (min_papers,),
        ).fetchone()
    if row["has_map"] or row["embedded"] < min_papers:
        return None
    return build(db)


def assign_new(db: Database) -> int:
    """Give every paper embedded since the last build its nearest topic; return how many."""
    with db.transaction() as conn:
        return _assign(conn, only_new=True)


def _active_map(conn: psycopg.Connection) -> tuple[dict | None, list[dict]]:
    layout = conn.execute(
        "SELECT id, mean, axis_x, axis_y FROM topic_maps ORDER BY id DESC LIMIT 1", binary=True
    ).fetchone()
    if layout is None:
        return None, []
    topics = conn.execute(
        "SELECT id, centroid, x, y FROM topics WHERE map_id = %s ORDER BY id",
        (layout["id"],),
        binary=True,
    ).fetchall()
    return layout, topics


def _assign(conn: psycopg.Connection, *, only_new: bool) -> int:
    layout, topics = _active_map(conn)
    if layout is None or not topics:
        return 0
    ids = [t["id"] for t in topics]
    centroids = np.vstack([_np(t["centroid"]) for t in topics])
    centres = np.array([[t["x"], t["y"]] for t in topics], dtype=np.float32)
    axes = np.vstack([_np(layout["axis_x"]), _np(layout["axis_y"])])
    if not only_new:
        # A build places every paper itself: what was queued is placed below too.
        conn.execute("DELETE FROM topic_queue")
    done, last = 0, 0
    while True:
        if only_new:
            rows = _queued(conn)
            if rows is None:
                break
        else:
            rows = conn.execute(
                "SELECT p.id, p.embedding FROM papers p"
                " WHERE p.embedding IS NOT NULL AND p.id > %s ORDER BY p.id LIMIT %s",
                (last, CHUNK),
                binary=True,
            ).fetchall()
        if not rows:
            if only_new:
                continue  # that chunk of the queue was already placed: take the next
            break
        last = rows[-1]["id"]
        vectors = _unit(np.vstack([_np(r["embedding"]) for r in rows]))
        sims = vectors @ centroids.T
        best = sims.argmax(axis=1)
        xy = centres[best] + SPREAD * ((vectors - centroids[best]) @ axes.T)
        with (
            conn.cursor() as cur,
            cur.copy("COPY paper_topics (paper_id, topic_id, x, y, similarity) FROM STDIN") as copy,
        ):
            for i, r in enumerate(rows):
                b = int(best[i])
                copy.write_row(
                    (r["id"], ids[b], float(xy[i, 0]), float(xy[i, 1]), float(sims[i, b]))
                )
        done += len(rows)
        if only_new:
            # Counted up by the new papers only: a recount would read every placement.
            conn.execute(
                "UPDATE topics t SET papers = t.papers + c.n"
                " FROM (SELECT topic_id, count(*) AS n FROM paper_topics"
                "       WHERE paper_id = ANY(%s) GROUP BY topic_id) c"
                " WHERE t.id = c.topic_id",
                ([r["id"] for r in rows],),
            )
    if not only_new:
        conn.execute(
            "UPDATE topics t SET papers ="
            " (SELECT count(*) FROM paper_topics pt WHERE pt.topic_id = t.id)"
            " WHERE t.map_id = %s",
            (layout["id"],),
        )
    return done


def _queued(conn: psycopg.Connection) -> list[dict] | None:
    """The next CHUNK queued papers that still need a place (None: the queue is empty).

    Taken off the queue in the caller's transaction, so a failure puts them back.
    A paper queued again after a new vector keeps the place it has.
    """
    ids = [
        r["paper_id"]
        for r in conn.execute(
            "DELETE FROM topic_queue WHERE paper_id IN"
            " (SELECT paper_id FROM topic_queue ORDER BY paper_id LIMIT %s"
            "  FOR UPDATE SKIP LOCKED) RETURNING paper_id",
            (CHUNK,),
        ).fetchall()
    ]
    if not ids:
        return None
    return conn.execute(
        "SELECT p.id, p.embedding FROM papers p"
        " WHERE p.id = ANY(%s) AND p.embedding IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM paper_topics pt WHERE pt.paper_id = p.id)"
        " ORDER BY p.id",
        (ids,),
        binary=True,
    ).fetchall()


def corpus_mean(conn: psycopg.Connection) -> np.ndarray | None:
    """The mean paper vector of the active map's sample (None before the first build)."""
    row = conn.execute(
        "SELECT mean FROM topic_maps ORDER BY id DESC LIMIT 1", binary=True
    ).fetchone()
    return _np(row["mean"]) if row else None


def labels(conn: psycopg.Connection, topic_ids: list[int]) -> dict[int, str]:
    """Topic id → label, for the ids that still exist."""
    if not topic_ids:
        return {}
    rows = conn.execute("SELECT id, label FROM topics WHERE id = ANY(%s)", (topic_ids,))
    return {r["id"]: r["label"] for r in rows.fetchall()}


def list_topics(conn: psycopg.Connection) -> list[Topic]:
    """The active map's topics, largest first."""
    rows = conn.execute(
        "SELECT t.id, t.label, t.terms, t.papers, t.x, t.y FROM topics t"
        " JOIN topic_maps m ON m.id = t.map_id ORDER BY t.papers DESC, t.id"
    ).fetchall()
    return [Topic(r["id"], r["label"], list(r["terms"]), r["papers"], r["x"], r["y"]) for r in rows]


def get_topic(conn: psycopg.Connection, topic_id: int) -> Topic | None:
    """One topic of the active map."""
    for topic in list_topics(conn):
        if topic.id == topic_id:
            return topic
    return None
