"""Key phrases and one-line summaries: the summary rule on the dev eval corpus, every
seed paper covered by the back-fill, Hugging Face's own kept, shown on cards and pages."""

from __future__ import annotations

import json
from datetime import date

import numpy as np

from paperfeed import catalogue
from paperfeed.index import phrases
from paperfeed.sources import listing
from tests.conftest import MODEL_DIR, SEEDS, SHARED
from tests.index.search_helpers import HashEmbedder
from tests.web.conftest import add_papers
from tests.web.conftest import paper as make_paper

EVAL = SHARED / "eval" / "corpus.jsonl"


def _eval_corpus() -> list[dict]:
    return [json.loads(line) for line in EVAL.read_text().splitlines() if line.strip()]


def test_summary_is_never_the_opening_background_sentence_when_a_method_is_stated() -> None:
    """The rule, whatever the similarity scores: try many random score vectors."""
    rng = np.random.default_rng(0)
    stated = 0
    for paper in _eval_corpus():
        parts = phrases.sentences(paper["abstract"])
        if not parts:
            continue
        method = [i for i, s in enumerate(parts) if phrases.states_method(s)]
        for _ in range(20):
            chosen = phrases.choose_summary(parts, rng.random(len(parts)))
            if method:
                assert chosen in method
                assert not (chosen == 0 and not phrases.states_method(parts[0]))
        stated += bool(method)
    # Most abstracts state their method in words the rule recognises.
    assert stated >= 0.8 * len(_eval_corpus())


def test_background_and_method_cues() -> None:
    assert phrases.is_background("Recently, large language models have shown strong results.")
    assert phrases.is_background("Sub-4 bit quantization remains a challenge for LLMs.")
    assert phrases.states_method("In this paper, we propose per-IC quantization.")
    assert phrases.states_method("We introduce AdaDim, a versatile framework.")
    assert not phrases.is_background("We propose a method; however, it is slow.")


def test_candidates_are_noun_phrases_without_stop_words_or_urls() -> None:
    found = phrases.candidates(
        "We propose graph neural networks for molecular property prediction. "
        "Code: https://github.com/a/b. Graph neural networks are strong."
    )
    assert "graph neural networks" in [f.lower() for f in found]
    assert not any("github" in f or f.lower().startswith(("we ", "the ")) for f in found)


def test_real_model_digest_on_eval_abstracts() -> None:
    from paperfeed.index.embed import get_embedder

    model = get_embedder("minilm-l6-v2-onnx-int8-fused", MODEL_DIR)
    for paper in _eval_corpus()[:5]:
        d = phrases.digest(model, paper["title"], paper["abstract"])
        assert d.summary and d.summary in " ".join(paper["abstract"].split())
        assert 3 <= len(d.phrases) <= phrases.PHRASES
        text = (paper["title"] + " " + paper["abstract"]).lower()
        assert all(p.lower() in " ".join(text.split()) for p in d.phrases)
        assert len({p.lower() for p in d.phrases}) == len(d.phrases)


def test_every_seed_paper_gets_phrases_and_a_summary(db) -> None:
    """The real back-fill with the real model over every seed paper (~40 CPU-ms each)."""
    from paperfeed.index.embed import get_embedder

    model = get_embedder("minilm-l6-v2-onnx-int8-fused", MODEL_DIR)
    items = [i for p in SEEDS for i in listing.parse(p.read_bytes(), str(p), 2025)]
    catalogue.ingest(db, items, source="listing", origin="seeds")
    done = phrases.summarise_pending(db, model)
    assert done == catalogue.count_papers(db) and phrases.count_pending(db) == 0
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT p.title, p.abstract, s.summary, s.key_phrases, s.origin FROM papers p"
            " JOIN paper_summaries s ON s.paper_id = p.id"
        ).fetchall()
    with_abstract = [r for r in rows if len(phrases.sentences(r["abstract"])) > 0]
    assert len(with_abstract) > 200
    for r in with_abstract:
        text = " ".join((r["title"] + " " + r["abstract"]).lower().split())
        # A long sentence is cut at a word and ends in "…".
        assert r["summary"] and r["summary"].removesuffix("…") in " ".join(r["abstract"].split())
        # Every word of a phrase is the paper's (TeX such as `{\delta}` is read as `delta`).
        assert r["key_phrases"] and all(
            w in text for k in r["key_phrases"] for w in k.lower().split()
        )
    assert {r["origin"] for r in rows} == {"computed"}
    # A second run has nothing to do.
    assert phrases.summarise_pending(db, model) == 0


def test_only_queued_papers_are_pending_and_a_changed_text_is_queued_again(db) -> None:
    """The pending papers come from summary_queue (0012), not from every paper: a
    summary dropped for a changed abstract queues its paper again, one dropped with
    its paper does not."""
    from paperfeed.catalogue import derive

    items = [i for p in SEEDS[:1] for i in listing.parse(p.read_bytes(), str(p), 2025)]
    catalogue.ingest(db, items, source="listing", origin="seeds")
    derive.sync(db)
    total = catalogue.count_papers(db)
    assert phrases.count_pending(db) == total
    assert phrases.summarise_pending(db, HashEmbedder()) == total
    assert phrases.count_pending(db) == 0
    with db.transaction() as conn:
        first, second = (
            r["id"] for r in conn.execute("SELECT id FROM papers ORDER BY id LIMIT 2").fetchall()
        )
        conn.execute(
            "UPDATE papers SET abstract = abstract || ' We also release code.' WHERE id = %s",
            (first,),
        )
        conn.execute("DELETE FROM papers WHERE id = %s", (second,))
    derive.sync(db)  # drops the summary of the old text
    assert phrases.count_pending(db) == 1
    assert phrases.summarise_pending(db, HashEmbedder()) == 1
    with db.connection() as conn:
        summary = conn.execute(
            "SELECT summary FROM paper_summaries WHERE paper_id = %s", (first,)
        ).fetchone()
        queued = conn.execute("SELECT count(*) AS n FROM summary_queue").fetchone()["n"]
    assert summary is not None and queued == 0


def test_cards_and_pages_show_summary_and_phrases_linking_to_search(pf, client) -> None:
    [pid] = add_papers(
        pf,
        make_paper(
            "Sparse mixture routing",
            date(2025, 5, 5),
            abstract="Recently, mixture-of-experts models have become popular. "
            "We propose sparse mixture routing, a router that balances expert load. "
            "Experiments show gains.",
        ),
    )
    phrases.summarise_pending(pf.db, HashEmbedder())
    html = client.get("/?date=2025-05-05").text
    assert '<p class="one-line-summary">We propose sparse mixture routing' in html
    assert 'class="phrase" href="/search?q=' in html
    page = client.get(f"/papers/{pid}").text
    assert "one-line-summary" in page and 'class="phrase"' in page


def test_embedding_only_the_summary_pool_picks_the_same_sentence() -> None:
    """digest embeds only the sentences that compete (none when one is left): on the dev
    eval corpus it picks what scoring every sentence would pick."""
    model = HashEmbedder()
    saved = 0
    for paper in _eval_corpus():
        parts = phrases.sentences(paper["abstract"])
        if not parts:
            continue
        doc = model.embed_documents([paper["title"] + " " + paper["abstract"]])[0]
        every = parts[phrases.choose_summary(parts, model.embed_documents(parts) @ doc)]
        got = phrases.digest(model, paper["title"], paper["abstract"], doc).summary
        assert got == (every if len(every) <= phrases.MAX_SUMMARY else got)
        assert got.rstrip("…") and every.startswith(got.rstrip("…"))
        pool = phrases.summary_pool(parts)
        saved += len(parts) - (len(pool) if len(pool) > 1 else 0)
    # Most sentences need no vector: the rule has already settled the choice.
    assert saved > 0.5 * sum(len(phrases.sentences(p["abstract"])) for p in _eval_corpus())


def test_short_texts_batched_by_length_stay_close_to_single_runs() -> None:
    """embed_short (key-phrase candidates) runs equal-length texts together: its vectors
    rank like the one-text-a-run ones (cosine >= 0.95 each)."""
    from paperfeed.index.embed import get_embedder

    model = get_embedder("minilm-l6-v2-onnx-int8-fused", MODEL_DIR)
    for paper in _eval_corpus()[:3]:
        found = phrases.candidates(f"{paper['title']}. {paper['abstract']}")
        batched, single = model.embed_short(found), model.embed_documents(found)
        assert batched.shape == single.shape
        assert (np.sum(batched * single, axis=1) >= 0.95).all()
    assert model.embed_short([]).shape == (0, model.dim)
