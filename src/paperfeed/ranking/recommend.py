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
New papers by authors or organisations the user follows come first (at most
half the feed), with their own reason: "by Jane Doe, whom you follow".
The scoring rule was chosen by `benchmarks/recommend.py` (see docs/personal.md).

Size: the feed's steps (candidates, scoring, reasons, followed people, profile upkeep)
read one profile in one transaction; they stay together so the order of those reads
stays visible.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import psycopg
from pgvector import HalfVector
from threadpoolctl import threadpool_limits

from paperfeed.catalogue import follows, moderation
from paperfeed.db import Database
from paperfeed.ranking import topics as topic_map
from paperfeed.ranking.taste import (  # noqa: F401 - re-exported: the model is part of this API
    MAX_SLOTS,
    Interests,
    Scored,
    build_interests,
    normalise,
    score,
)

# Candidates drawn from the HNSW index per request, shared among the interests.
CANDIDATES = 160
MIN_PER_INTEREST = 20
# A date window holding at most this many papers is scanned exactly instead.
EXACT_WINDOW = 20_000
# Scoring reads at most this many of the newest positives and negatives.
MAX_POSITIVES = 1_000
MAX_NEGATIVES = 500
# A pick matching one of the user's saved searches gets this bonus (and that reason).
SAVED_SEARCH_BONUS = 0.05
# What a pick must score to be mailed in a for-you digest. Scores are centred
# cosines (see taste.score): a paper unrelated to every interest scores about
# 0 (± 0.1), one on the same topic as a saved paper 0.3 and more. The feed page
# ranks everything; a digest sends only what is clearly close to the user.
# Calibrated by `benchmarks/recommend.py --calibrate-digest` (the highest F1 of
# simulated readers' weekly digests on the seed corpus; docs/delivery.md).
DIGEST_MIN_SCORE = 0.2
# Followed people's new papers fill at most this share of the feed, ahead of the rest.
FOLLOWED_SHARE = 0.5


@dataclass(frozen=True)
class Pick:
    """One for-you pick: the paper, its score, and why it was picked."""

    paper_id: int
    score: float
    reason: str
    # 'library' | 'vote' | 'topic' | 'search' | 'follow': what the reason points at.
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
                (
                    user_id,
                    slot,
                    interests.centroids[slot],
                    interests.weights[slot],
                    interests.origins[slot],
                    interests.topic_ids[slot],
                )
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
            (t, c)
            for t, c, o in zip(
                interests.topic_ids, interests.centroids, interests.origins, strict=True
            )
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
    """Papers near the user's interests: exact over a small date window, else from HNSW."""
    # Room for the papers the user already has, which sit near their interests.
    extra = min(-(-len(exclude) // max(len(queries), 1)), MIN_PER_INTEREST)
    if since is not None:
        window = conn.execute(
            "SELECT count(*) AS n FROM papers WHERE coalesce(listed_on, published_on) >= %s",
            (since,),
        ).fetchone()["n"]
        if window <= EXACT_WINDOW:
            return _nearest_in_window(conn, queries, since, CANDIDATES + len(exclude), exclude)
    per = max(MIN_PER_INTEREST, -(-CANDIDATES // max(len(queries), 1)))
    conn.execute("SELECT set_config('hnsw.ef_search', %s, true)", (str(per + extra),))
    conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
    # One statement for every interest: one HNSW walk each, one round trip in all.
    rows = conn.execute(
        "SELECT DISTINCT ON (n.id) n.id, n.embedding FROM unnest(%s::halfvec[]) AS q(vec)"
        " CROSS JOIN LATERAL (SELECT id, embedding FROM papers"
        "   WHERE embedding IS NOT NULL"
        "     AND (%s::date IS NULL OR coalesce(listed_on, published_on) >= %s)"
        "   ORDER BY embedding <=> q.vec LIMIT %s) n",
        ([HalfVector(q) for q in queries], since, since, per + extra),
        binary=True,
    ).fetchall()
    return {r["id"]: _np(r["embedding"]) for r in rows if r["id"] not in exclude}


def _nearest_in_window(
    conn: psycopg.Connection, queries: np.ndarray, since: date, limit: int, exclude: set[int]
) -> dict[int, np.ndarray]:
    # A date window of a few thousand papers is scanned exactly (through the date index):
    # cheaper than an HNSW walk that must skip every paper outside the window.
    nearest = "LEAST(" + ", ".join(["embedding <=> %s::halfvec"] * len(queries)) + ")"
    rows = conn.execute(
        "SELECT id, embedding FROM papers"  # noqa: S608 - constant fragments only
        " WHERE coalesce(listed_on, published_on) >= %s AND embedding IS NOT NULL"
        " ORDER BY " + nearest + " LIMIT %s",
        (since, *[HalfVector(q) for q in queries], limit),
        binary=True,
    ).fetchall()
    return {r["id"]: _np(r["embedding"]) for r in rows if r["id"] not in exclude}


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
    every_positive = _positives(conn, user_id, None)
    every_negative = _negatives(conn, user_id)
    seen = {r["paper_id"] for r in every_positive} | {r["paper_id"] for r in every_negative}
    followed = _followed(conn, user_id, since, seen, max(1, int(limit * FOLLOWED_SHARE)))
    if not len(interests):
        return followed[:limit]
    taste = _taste_picks(
        conn, user_id, interests, every_positive, every_negative, seen, limit, since
    )
    taken = {p.paper_id for p in followed}
    # Hidden papers (catalogue/moderation.py) are no one's pick; they are rare, so
    # they are dropped here rather than in every candidate query.
    hidden = moderation.hidden_among(conn, [p.paper_id for p in taste])
    return (followed + [p for p in taste if p.paper_id not in taken | hidden])[:limit]


def _followed(
    conn: psycopg.Connection, user_id: int, since: date | None, seen: set[int], limit: int
) -> list[Pick]:
    """The newest papers by followed authors/organisations the user has not acted on."""
    found = follows.followed_papers(conn, user_id, since=since, limit=limit + len(seen))
    fresh = [f for f in found if f["paper_id"] not in seen][:limit]
    # Scores above any cosine-based score (at most 1 + the search bonus), newest first.
    return [
        Pick(f["paper_id"], 2.0 - i / 1000, f["reason"], "follow") for i, f in enumerate(fresh)
    ]


def _taste_picks(
    conn: psycopg.Connection,
    user_id: int,
    interests: Interests,
    every_positive: list[dict],
    every_negative: list[dict],
    seen: set[int],
    limit: int,
    since: date | None,
) -> list[Pick]:
    """Picks of the taste model (the module docstring's steps 1–3)."""
    positives = [r for r in every_positive[-MAX_POSITIVES:] if r["embedding"] is not None]
    negatives = [r for r in every_negative if r["embedding"] is not None]
    found = _candidates(conn, interests.matrix(), since, seen)
    if not found:
        return []
    ids = list(found)
    pos_matrix = (
        np.vstack([_np(r["embedding"]) for r in positives]) if positives else np.zeros((0, 0))
    )
    neg_matrix = (
        np.vstack([_np(r["embedding"]) for r in negatives]) if negatives else np.zeros((0, 0))
    )
    # The matrices are small (a few hundred rows): BLAS threads only add hand-offs,
    # which cost tens of milliseconds on a busy 2-core machine.
    with threadpool_limits(1):
        scored = score(
            np.vstack([found[i] for i in ids]),
            pos_matrix,
            neg_matrix,
            interests.matrix(),
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
        out.append(
            _explain(
                pid,
                float(totals[index]),
                int(scored.nearest_positive[index]),
                int(scored.nearest_interest[index]),
                positives,
                interests,
                searches.get(pid),
                labels,
            )
        )
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
        return Pick(
            paper_id, total, f"matches your saved search “{search}”", "search", reason_label=search
        )
    if interest >= 0 and interests.origins[interest] == "topic":
        label = labels.get(interests.topic_ids[interest] or 0, "a topic you picked")
        return Pick(paper_id, total, f"in your topic “{label}”", "topic", reason_label=label)
    if nearest >= 0:
        row = positives[nearest]
        where = "your library" if row["saved"] else "papers you upvoted"
        kind = "library" if row["saved"] else "vote"
        return Pick(
            paper_id,
            total,
            f"close to “{row['title']}” in {where}",
            kind,
            row["paper_id"],
            row["title"],
        )
    return Pick(paper_id, total, "close to your interests", "topic")


def for_you(
    db: Database,
    user_id: int,
    limit: int = 20,
    since: date | None = None,
    min_score: float | None = None,
) -> list[Pick]:
    """The user's for-you picks (paper id, score, reason), in one transaction of its own;
    with `min_score`, only picks scoring at least that (a digest's DIGEST_MIN_SCORE)."""
    with db.transaction() as conn:
        found = picks(conn, user_id, limit, since)
    if min_score is not None:
        found = [p for p in found if p.score >= min_score]
    return found


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
    # str.isdigit() also accepts "²" and other non-ASCII digits, which int() refuses.
    if not (user_part.isascii() and user_part.isdigit()) or len(user_part) > 18:
        return None
    if not mac or not mac.isascii():  # compare_digest refuses non-ASCII str
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
