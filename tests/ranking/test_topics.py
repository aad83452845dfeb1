"""The topic map: readable labels, incremental assignment, trends and rising topics."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from paperfeed.model import Paper
from paperfeed.ranking import recommend, topic_trends, topics
from tests.factories import add_papers, set_embeddings, topic_vector


def _topic_of_papers(pf, ids):
    with pf.db.connection() as conn:
        rows = conn.execute(
            "SELECT pt.paper_id, t.label FROM paper_topics pt JOIN topics t ON t.id = pt.topic_id"
            " WHERE pt.paper_id = ANY(%s)",
            (ids,),
        ).fetchall()
    return {r["paper_id"]: r["label"] for r in rows}


def test_build_finds_the_three_topics_and_labels_them_with_their_words(pf, corpus):
    topics.build(pf.db, k=3)
    labels = _topic_of_papers(pf, [pid for ids in corpus.ids.values() for pid in ids])
    for topic, ids in corpus.ids.items():
        assert len({labels[pid] for pid in ids}) == 1, f"{topic} split across clusters"
    joined = " | ".join(sorted(set(labels.values())))
    for word in ("graph", "speech", "robot"):
        assert word in joined
    with pf.db.connection() as conn:
        assert sorted(t.papers for t in topics.list_topics(conn)) == [12, 12, 12]


def test_new_papers_get_the_nearest_topic_without_reclustering(pf, corpus):
    map_id = topics.build(pf.db, k=3)
    rng = np.random.default_rng(5)
    new = add_papers(
        pf,
        [
            Paper(title="Late speech paper", abstract="speech audio"),
            Paper(title="Late robot paper", abstract="robot arms"),
        ],
    )
    with pf.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM topic_queue").fetchone()["n"] == 0
    set_embeddings(pf, {new[0]: topic_vector("speech", rng), new[1]: topic_vector("robots", rng)})
    with pf.db.connection() as conn:
        # Only what got a vector since the build is queued: no scan of the catalogue.
        queued = conn.execute("SELECT paper_id FROM topic_queue ORDER BY 1").fetchall()
        assert [r["paper_id"] for r in queued] == sorted(new)
    assert topics.assign_new(pf.db) == 2
    assert topics.assign_new(pf.db) == 0
    labels = _topic_of_papers(pf, new + [corpus.ids["speech"][0], corpus.ids["robots"][0]])
    assert labels[new[0]] == labels[corpus.ids["speech"][0]]
    assert labels[new[1]] == labels[corpus.ids["robots"][0]]
    # A new vector for a placed paper queues it, and it keeps its place.
    set_embeddings(pf, {new[0]: topic_vector("robots", rng)})
    assert topics.assign_new(pf.db) == 0
    assert _topic_of_papers(pf, [new[0]])[new[0]] == labels[new[0]]
    with pf.db.connection() as conn:
        assert conn.execute("SELECT id FROM topic_maps").fetchone()["id"] == map_id
        assert conn.execute("SELECT count(*) AS n FROM topic_queue").fetchone()["n"] == 0
        # Counted up by the two new papers (the build counted 12 each).
        assert sorted(t.papers for t in topics.list_topics(conn)) == [12, 13, 13]


def test_weekly_series_counts_papers_and_votes_per_week(pf, corpus):
    topics.build(pf.db, k=3)
    label = _topic_of_papers(pf, [corpus.ids["graphs"][0]])[corpus.ids["graphs"][0]]
    with pf.db.connection() as conn:
        topic_id = next(t.id for t in topics.list_topics(conn) if t.label == label)
        weeks = topic_trends.weekly(conn, topic_id, weeks=20)
    assert len(weeks) == 20
    assert sum(w.papers for w in weeks) == 12
    # Imported upvotes 0..11 are credited to each paper's own week.
    assert sum(w.votes for w in weeks) == sum(range(12))
    assert [w.start for w in weeks] == sorted(w.start for w in weeks)


def test_a_burst_of_recent_papers_makes_a_topic_rise(pf, corpus):
    topics.build(pf.db, k=3)
    rng = np.random.default_rng(9)
    last = date(2024, 3, 25)
    burst = add_papers(
        pf,
        [
            Paper(
                title=f"Robot burst {i}",
                abstract="robot manipulation",
                listed_on=last - timedelta(days=i),
            )
            for i in range(8)
        ],
    )
    set_embeddings(pf, {pid: topic_vector("robots", rng) for pid in burst})
    topics.assign_new(pf.db)
    with pf.db.connection() as conn:
        rising = topic_trends.rising(conn)
    assert rising and "robot" in rising[0].label


def test_picked_topics_start_the_feed_and_are_named_as_the_reason(pf, corpus, user_id):
    topics.build(pf.db, k=3)
    with pf.db.transaction() as conn:
        speech = next(t for t in topics.list_topics(conn) if "speech" in t.label)
        assert recommend.pick_topics(conn, user_id, [speech.id]) == 1
    picks = recommend.for_you(pf.db, user_id, 5)
    assert [corpus.topic_of(p.paper_id) for p in picks] == ["speech"] * 5
    assert all(p.reason_kind == "topic" and speech.label in p.reason for p in picks)
