"""The for-you feed: learns from saves, votes and "not interested", and explains its picks."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from paperfeed.catalogue import accounts, library
from paperfeed.ranking import recommend


def _topics(corpus, picks):
    return [corpus.topic_of(p.paper_id) for p in picks]


def test_new_user_without_positives_gets_an_empty_feed(pf, corpus, user_id):
    assert recommend.for_you(pf.db, user_id, 10) == []


def test_saving_papers_of_one_topic_fills_the_feed_with_that_topic(pf, corpus, user_id):
    with pf.db.transaction() as conn:
        for pid in corpus.ids["graphs"][:3]:
            library.save(conn, user_id, pid)
    picks = recommend.for_you(pf.db, user_id, 5)
    assert len(picks) == 5
    assert _topics(corpus, picks) == ["graphs"] * 5
    assert not {p.paper_id for p in picks} & set(corpus.ids["graphs"][:3])
    assert [p.score for p in picks] == sorted((p.score for p in picks), reverse=True)


def test_reasons_name_the_nearest_real_library_item(pf, corpus, user_id):
    saved = corpus.ids["speech"][:2] + corpus.ids["robots"][:2]
    with pf.db.transaction() as conn:
        for pid in saved:
            library.save(conn, user_id, pid)
        titles = {r["id"]: r["title"] for r in library.papers_by_ids(conn, saved)}
    picks = recommend.for_you(pf.db, user_id, 10)
    assert picks
    for pick in picks:
        assert pick.reason_kind == "library"
        assert pick.reason_paper_id in saved
        assert corpus.topic_of(pick.reason_paper_id) == corpus.topic_of(pick.paper_id)
        assert titles[pick.reason_paper_id] in pick.reason
        assert "in your library" in pick.reason


def test_a_vote_counts_as_a_positive_and_is_named_as_such(pf, corpus, user_id):
    with pf.db.transaction() as conn:
        accounts.record_vote(conn, user_id, corpus.ids["robots"][0])
    picks = recommend.for_you(pf.db, user_id, 3)
    assert _topics(corpus, picks) == ["robots"] * 3
    assert all(p.reason_kind == "vote" and "you upvoted" in p.reason for p in picks)


def test_not_interested_pushes_similar_papers_down(pf, corpus, user_id):
    with pf.db.transaction() as conn:
        library.save(conn, user_id, corpus.ids["graphs"][0])
        library.save(conn, user_id, corpus.ids["speech"][0])
    before = recommend.for_you(pf.db, user_id, 36)
    speech_before = [i for i, p in enumerate(before) if corpus.topic_of(p.paper_id) == "speech"]
    with pf.db.transaction() as conn:
        for pid in corpus.ids["speech"][1:4]:
            library.not_interested(conn, user_id, pid)
    after = recommend.for_you(pf.db, user_id, 36)
    assert not {p.paper_id for p in after} & set(corpus.ids["speech"][1:4])
    speech_after = [i for i, p in enumerate(after) if corpus.topic_of(p.paper_id) == "speech"]
    # The remaining speech papers now rank below every graphs paper.
    graphs_after = [i for i, p in enumerate(after) if corpus.topic_of(p.paper_id) == "graphs"]
    assert max(graphs_after) < min(speech_after)
    assert np.mean(speech_after) > np.mean(speech_before)


def test_unsaving_rebuilds_the_profile_from_the_remaining_positives(pf, corpus, user_id):
    with pf.db.transaction() as conn:
        library.save(conn, user_id, corpus.ids["graphs"][0])
        library.save(conn, user_id, corpus.ids["robots"][0])
        library.unsave(conn, user_id, corpus.ids["graphs"][0])
    picks = recommend.for_you(pf.db, user_id, 5)
    assert _topics(corpus, picks) == ["robots"] * 5


def test_the_profile_is_folded_incrementally_not_rebuilt(pf, corpus, user_id):
    with pf.db.transaction() as conn:
        library.save(conn, user_id, corpus.ids["graphs"][0])
        first = recommend.refresh_profile(conn, user_id)
        library.save(conn, user_id, corpus.ids["graphs"][1])
        second = recommend.refresh_profile(conn, user_id)
        profile = conn.execute(
            "SELECT positives FROM user_profiles WHERE user_id = %s", (user_id,)
        ).fetchone()
    assert len(first) == 1 and first.weights == [1.0]
    assert len(second) == 1 and second.weights == [2.0]
    assert profile["positives"] == 2


def test_since_keeps_only_recent_papers(pf, corpus, user_id):
    from datetime import date

    with pf.db.transaction() as conn:
        library.save(conn, user_id, corpus.ids["graphs"][0])
    picks = recommend.for_you(pf.db, user_id, 20, since=date(2024, 3, 1))
    with pf.db.connection() as conn:
        days = [r["listed_on"] for r in library.papers_by_ids(conn, [p.paper_id for p in picks])]
    assert picks and all(d >= date(2024, 3, 1) for d in days)


def test_one_users_actions_do_not_change_another_users_feed(pf, corpus, user_id, other_user_id):
    with pf.db.transaction() as conn:
        library.save(conn, user_id, corpus.ids["graphs"][0])
        library.save(conn, other_user_id, corpus.ids["speech"][0])
    assert set(_topics(corpus, recommend.for_you(pf.db, user_id, 5))) == {"graphs"}
    assert set(_topics(corpus, recommend.for_you(pf.db, other_user_id, 5))) == {"speech"}


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=40), st.integers(0, 2**31))
def test_interests_never_exceed_the_slot_limit_and_weights_count_every_positive(axes, seed):
    rng = np.random.default_rng(seed)
    interests = recommend.Interests()
    for axis in axes:
        v = np.zeros(16, dtype=np.float32)
        v[axis] = 1
        interests.fold(v + 0.1 * rng.standard_normal(16).astype(np.float32))
    assert 1 <= len(interests) <= recommend.MAX_SLOTS
    assert sum(interests.weights) == len(axes)
    assert len(interests) <= len(set(axes)) + 1 or len(interests) == recommend.MAX_SLOTS
