"""Topic-map labels come from the papers' key phrases (index/phrases.py or Hugging Face's),
not from the word pairs the abstracts alone would give."""

from __future__ import annotations

import numpy as np

from paperfeed.model import Paper
from paperfeed.ranking import topics
from tests.factories import add_papers, set_embeddings, topic_vector

# Phrases of three words: the abstracts' own terms are single words and word pairs
# (ranking/topics._tokens), so a label holding one of these came from the key phrases.
PHRASES = {
    "graphs": ["equivariant message passing networks", "molecular property prediction"],
    "speech": ["streaming speech recognition systems", "low-resource spoken languages"],
}


def _seed(pf, with_phrases: bool) -> dict[str, list[int]]:
    rng = np.random.default_rng(3)
    ids: dict[str, list[int]] = {}
    for topic, words in (("graphs", "graph message networks"), ("speech", "speech audio")):
        papers = [
            Paper(title=f"{topic.title()} paper {i}",
                  abstract=f"We study {words} and report {topic} results number {i}.")
            for i in range(8)
        ]  # fmt: skip
        ids[topic] = add_papers(pf, papers)
        set_embeddings(pf, {pid: topic_vector(topic, rng) for pid in ids[topic]})
    if with_phrases:
        with pf.db.transaction() as conn:
            for topic, pids in ids.items():
                for pid in pids:
                    conn.execute(
                        "INSERT INTO paper_summaries (paper_id, summary, key_phrases, origin,"
                        " text_md5) VALUES (%s, '', %s, 'computed', 'x')",
                        (pid, PHRASES[topic]),
                    )
    return ids


def _labels(pf, ids: dict[str, list[int]]) -> dict[str, tuple[str, list[str]]]:
    with pf.db.connection() as conn:
        rows = conn.execute(
            "SELECT pt.paper_id, t.label, t.terms FROM paper_topics pt"
            " JOIN topics t ON t.id = pt.topic_id"
        ).fetchall()
    by_paper = {r["paper_id"]: (r["label"], list(r["terms"])) for r in rows}
    return {topic: by_paper[pids[0]] for topic, pids in ids.items()}


def test_topic_labels_use_the_papers_key_phrases(pf, client) -> None:
    ids = _seed(pf, with_phrases=True)
    topics.build(pf.db, k=2)
    labels = _labels(pf, ids)
    for topic, (label, terms) in labels.items():
        # The seeded topic's label (its first LABEL_TERMS terms) holds its papers' key
        # phrases: three-word terms, which the abstracts' words and pairs cannot make.
        shown = terms[: topics.LABEL_TERMS]
        assert set(shown) & set(PHRASES[topic]), (topic, terms)
        assert all(p in label for p in set(shown) & set(PHRASES[topic]))
        other = "speech" if topic == "graphs" else "graphs"
        assert not any(p in label for p in PHRASES[other])
    # The map and the API show the same labels.
    page = client.get("/topics").text
    api = client.get("/api/topics").json()
    for label, _ in labels.values():
        assert label in page
    assert {label for label, _ in labels.values()} <= {t["label"] for t in api["topics"]}


def test_without_key_phrases_labels_are_the_abstracts_words(pf) -> None:
    """The contrast: the same papers with no key phrases get word (pair) labels."""
    ids = _seed(pf, with_phrases=False)
    topics.build(pf.db, k=2)
    for _, terms in _labels(pf, ids).values():
        assert all(len(t.split()) <= 2 for t in terms)
        assert not {p for ps in PHRASES.values() for p in ps} & set(terms)
