"""The relevance cut-off, identifiers, organisation matching and unembedded papers."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.db import Database
from paperfeed.index import backfill, lexical, search
from paperfeed.index.search import Filters

from .search_helpers import add_papers, paper

pytest_plugins = ["tests.index.search_fixtures"]

NONSENSE = ["qwxzzkjh", "banana bread recipe", "how do I make it stop", "the", "zzzz"]


@pytest.mark.parametrize("query", NONSENSE)
def test_nonsense_queries_return_nothing_with_or_without_vectors(
    embedded: Database, hasher, query: str
) -> None:
    for emb in (hasher, None):
        res = search.search(embedded, emb, query)
        assert res.total == 0 and res.hits == [], (query, emb, [h.title for h in res.hits])


def test_nonsense_returns_nothing_with_the_real_model(embedded: Database, minilm) -> None:
    backfill.embed_pending(embedded, minilm)
    for query in NONSENSE + ["medieval french poetry", "cheap flights to paris"]:
        assert search.search(embedded, minilm, query).total == 0, query
    # A real topic still finds its papers, each above the cut-off.
    res = search.search(embedded, minilm, "state space models")
    assert res.total >= 3
    assert all(h.relevance >= search.CUTOFF for h in res.hits)


def test_total_counts_only_relevant_results(embedded: Database, hasher) -> None:
    with embedded.transaction() as conn:
        every = search.rank(conn, hasher, "mixture of experts", Filters(), cutoff=None)
        kept = search.rank(conn, hasher, "mixture of experts", Filters())
    assert 0 < len(kept) < len(every)
    assert search.search(embedded, hasher, "mixture of experts").total == len(kept)
    assert [r.id for r in kept] == [r.id for r in every if r.relevance >= search.CUTOFF]


@pytest.mark.parametrize("sort", ["date", "upvotes"])
def test_sorting_reorders_only_the_relevant_set(embedded: Database, hasher, sort: str) -> None:
    by_relevance = search.search(embedded, hasher, "mixture of experts", per_page=100)
    resorted = search.search(embedded, hasher, "mixture of experts", sort=sort, per_page=100)
    assert resorted.total == by_relevance.total
    assert {h.id for h in resorted.hits} == {h.id for h in by_relevance.hits}
    if sort == "date":
        days = [h.listed_on or h.published_on for h in resorted.hits]
        assert days == sorted(days, reverse=True)


def test_everyday_words_carry_little_information(embedded: Database) -> None:
    with embedded.transaction() as conn:
        stats = search._TERM_STATS.get(conn)
        analysed = lexical.analyse(conn, lexical.parse("how to stop softmax"), stats)
    weight = dict(zip(analysed.terms, analysed.informative, strict=True))
    idf = dict(zip(analysed.terms, analysed.idfs, strict=True))
    assert weight["softmax"] == pytest.approx(idf["softmax"])
    assert weight["stop"] < 0.3 * idf["stop"]
    assert lexical.specificity("how") == 0.0 and lexical.specificity("softmax") == 1.0


def test_a_phrase_of_common_words_counts_as_specific(seeded: Database) -> None:
    # Keyword-only: "state" and "space" are common English, "state space" is not.
    res = search.search(seeded, None, "state space models")
    assert res.total >= 3
    assert all("state space" in (h.title + h.abstract).lower() for h in res.hits[:3])


def test_unembedded_paper_comes_first_for_its_exact_title(embedded: Database, hasher) -> None:
    title = "Sparse Mixture of Experts Routing with Balanced Token Assignment"
    (new,) = add_papers(embedded, paper(title, "We route tokens to experts with balance."))
    with embedded.connection() as conn:
        assert (
            conn.execute("SELECT embedding FROM papers WHERE id = %s", (new,)).fetchone()[
                "embedding"
            ]
            is None
        )
    res = search.search(embedded, hasher, title)
    assert res.hits[0].id == new
    assert search.search(embedded, None, title).hits[0].id == new


@pytest.mark.parametrize(
    "typed",
    [
        "2401.05566",
        "2401.05566v2",
        "arXiv:2401.05566",
        "ARXIV:2401.05566v1",
        "https://arxiv.org/abs/2401.05566",
        "https://arxiv.org/pdf/2401.05566v3.pdf",
        "arxiv.org/abs/2401.05566v2",
    ],
)
def test_arxiv_id_in_any_form_names_the_paper(seeded: Database, typed: str) -> None:
    (pid,) = add_papers(seeded, paper("Sleeper Agents Revisited", arxiv_id="2401.05566"))
    with seeded.transaction() as conn:
        assert search.identifier_paper(conn, typed) == pid


def test_old_style_arxiv_id_and_doi_name_the_paper(seeded: Database) -> None:
    old, doi = add_papers(
        seeded,
        paper("Old Style Strings", arxiv_id="hep-th/9901001"),
        paper("A Paper With A DOI", doi="10.1234/Example.5678"),
    )
    with seeded.transaction() as conn:
        assert search.identifier_paper(conn, "hep-th/9901001") == old
        assert search.identifier_paper(conn, "hep-th/9901001v2") == old
        assert search.identifier_paper(conn, "10.1234/example.5678") == doi
        assert search.identifier_paper(conn, "doi:10.1234/Example.5678") == doi
        assert search.identifier_paper(conn, "https://doi.org/10.1234/Example.5678") == doi
        assert search.identifier_paper(conn, "2501.99999") is None
        assert search.identifier_paper(conn, "state space models") is None


def test_organization_matches_a_prefix_or_word_in_any_case(seeded: Database) -> None:
    ids = add_papers(
        seeded,
        paper("Quokka pruning one", organization="University of Auckland"),
        paper("Quokka pruning two", organization="Auckland Bioengineering Institute"),
        paper("Quokka pruning three", organization="Aucklandish Labs"),
        paper("Quokka pruning four", organization="New Zealand Inst."),
    )
    auckland = Filters(organization="auckland")
    found = {h.id for h in search.search(seeded, None, "quokka pruning", auckland).hits}
    assert found == set(ids[:3])  # a prefix of a word matches, so "Aucklandish" does too
    uni = search.search(seeded, None, "quokka pruning", Filters(organization="univ")).hits
    assert [h.id for h in uni] == [ids[0]]
    odd = search.search(seeded, None, "quokka pruning", Filters(organization="INST")).hits
    assert {h.id for h in odd} == {ids[1], ids[3]}
    res = search.search(seeded, None, "quokka pruning")
    assert ("University of Auckland", 1) in res.organizations


def test_filters_narrow_the_window_dates(seeded: Database) -> None:
    ids = add_papers(
        seeded,
        paper("Wombat attention early", published_on=date(2024, 1, 1)),
        paper("Wombat attention late", published_on=date(2025, 6, 1)),
    )
    res = search.search(seeded, None, "wombat attention", Filters(date_from=date(2025, 1, 1)))
    assert [h.id for h in res.hits] == [ids[1]]
