"""Hybrid search: syntax, filters, pagination, snippets, similar papers."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperfeed.db import Database
from paperfeed.index import backfill, search
from paperfeed.index.search import Filters, SearchError
from paperfeed.model import normalise_title

from .search_helpers import HashEmbedder, add_papers, paper

# The seeded/embedded databases, the hash embedder and the real model.
pytest_plugins = ["tests.index.search_fixtures"]


def _all_hits(db: Database, emb: object, query: str, **kw: object) -> list[search.Hit]:
    """Every result of a search, page after page."""
    hits, page = [], 1
    while True:
        res = search.search(db, emb, query, page=page, per_page=50, **kw)
        hits.extend(res.hits)
        if not res.has_next:
            return hits
        page += 1


def _text(hit: search.Hit) -> str:
    return normalise_title(hit.title + " " + hit.abstract)


def test_title_match_ranks_first_for_a_keyword_query(embedded: Database, hasher) -> None:
    res = search.search(embedded, hasher, "Kolmogorov-Arnold networks", per_page=3)
    assert all("kolmogorov arnold" in normalise_title(h.title) for h in res.hits)


def test_phrase_keeps_only_papers_with_the_words_adjacent(embedded: Database, hasher) -> None:
    hits = _all_hits(embedded, hasher, '"batch size"')
    assert len(hits) >= 3
    assert all("batch size" in _text(h) for h in hits)
    loose = _all_hits(embedded, hasher, "batch size")
    assert len(loose) > len(hits)


def test_exclusion_removes_every_paper_with_the_word(embedded: Database, hasher) -> None:
    with_word = _all_hits(embedded, hasher, "normalization")
    assert any("batch" in _text(h) for h in with_word[:20])
    hits = _all_hits(embedded, hasher, "normalization -batch")
    # Word-level: "BatchNorm" is another word and may stay.
    assert hits and not any(re.search(r"\bbatch(es)?\b", _text(h)) for h in hits)


def test_injection_attempt_is_searched_as_words(embedded: Database, hasher) -> None:
    res = search.search(embedded, hasher, "'; DROP TABLE papers; --")
    assert isinstance(res.total, int)
    with embedded.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM papers").fetchone()["n"] == 243


def test_unicode_query_finds_accented_title(embedded: Database, hasher) -> None:
    add_papers(embedded, paper("Über naïve Bayes résumé ranking 模型", "Zürich café study."))
    res = search.search(embedded, hasher, "naïve résumé 模型")
    assert res.hits[0].title.startswith("Über naïve")


@pytest.mark.parametrize("query", ["", "   ", "!!!", '""', "-", "x" * 501])
def test_empty_punctuation_only_or_overlong_query_is_a_400(
    embedded: Database, hasher, query
) -> None:
    with pytest.raises(SearchError) as err:
        search.search(embedded, hasher, query)
    assert err.value.status == 400


def test_control_characters_in_query_and_filters_are_spaces(embedded: Database, hasher) -> None:
    add_papers(
        embedded,
        paper("Zyxwv quokka revisited", "We study quokkas.", organization="Lab"),
    )
    res = search.search(embedded, hasher, "zyxwv\x00quokka\x1b")
    assert res.hits[0].title == "Zyxwv quokka revisited"
    res = search.search(embedded, hasher, "quokka", Filters(organization="Lab\x00"))
    assert res.total == 1  # "Lab\x00" is "Lab " stripped, not a crash
    with pytest.raises(SearchError):
        search.search(embedded, hasher, "\x00\x00")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
    | st.lists(
        st.sampled_from(
            ['"', "-", "&", "|", "!", ":*", "(", ")", "<->", "OR", "'", "\\", "batch", "norm", " "]
        ),
        max_size=12,
    ).map("".join)
)
def test_any_query_either_answers_or_is_a_400(embedded: Database, hasher, query: str) -> None:
    try:
        res = search.search(embedded, hasher, query, per_page=5)
    except SearchError as err:
        assert err.status == 400
    else:
        assert len(res.hits) <= 5


def test_pages_have_no_duplicates_or_gaps(embedded: Database, hasher) -> None:
    whole = search.search(embedded, hasher, "language model training", per_page=100)
    paged: list[int] = []
    page = 1
    while True:
        res = search.search(embedded, hasher, "language model training", page=page, per_page=7)
        assert res.total == whole.total
        paged.extend(h.id for h in res.hits)
        if not res.has_next:
            break
        page += 1
    assert len(paged) == len(set(paged)) == whole.total
    assert paged[:100] == [h.id for h in whole.hits]


def test_snippets_escape_html_and_only_marks_are_tags(embedded: Database, hasher) -> None:
    add_papers(
        embedded,
        paper(
            "<script>alert(1)</script> Zebrafish attention",
            'We study <b>zebrafish</b> & "quoted" <img src=x onerror=alert(2)>.',
        ),
    )
    hit = search.search(embedded, hasher, "zebrafish").hits[0]
    assert "&lt;script&gt;" in hit.title_html and "<script" not in hit.title_html
    assert "<mark>Zebrafish</mark>" in hit.title_html
    assert "&lt;img" in hit.snippet_html and "<mark>zebrafish</mark>" in hit.snippet_html
    tags = re.findall(r"</?([a-zA-Z]+)", hit.title_html + hit.snippet_html)
    assert set(tags) == {"mark"}


def test_paper_without_vector_is_found_by_keyword(embedded: Database, hasher) -> None:
    [pid] = add_papers(embedded, paper("Quokka gradients", "Quokka optimisation of nets."))
    with embedded.connection() as conn:
        assert (
            conn.execute("SELECT embedding FROM papers WHERE id = %s", (pid,)).fetchone()[
                "embedding"
            ]
            is None
        )
    assert search.search(embedded, hasher, "quokka").hits[0].id == pid


def test_british_spelling_finds_american_spelt_papers(embedded: Database, hasher) -> None:
    [pid] = add_papers(embedded, paper("Memorization in tiny xylophone nets"))
    assert pid in [h.id for h in search.search(embedded, None, "memorising xylophone").hits]


def test_search_without_embedder_is_keyword_only(embedded: Database) -> None:
    res = search.search(embedded, None, "state space models")
    assert res.hits and all(re.search(r"state|space|model", _text(h)) for h in res.hits)


def _filter_corpus(db: Database) -> dict[str, int]:
    ids = add_papers(
        db,
        paper(
            "Walrus pruning early",
            published_on=date(2023, 3, 1),
            organization="Walrus Lab",
            github_url="https://github.com/w/a",
            upvotes=3,
        ),
        paper(
            "Walrus pruning late",
            published_on=date(2025, 6, 1),
            organization="Other Org",
            upvotes=40,
        ),
        paper(
            "Walrus pruning middle",
            published_on=date(2024, 6, 1),
            organization="walrus lab",
            upvotes=10,
        ),
    )
    return dict(zip(("early", "late", "middle"), ids, strict=True))


def _walrus(db: Database, emb: HashEmbedder, **kw: object) -> set[int]:
    return {
        h.id
        for h in search.search(db, emb, "walrus pruning", **kw).hits
        if "walrus" in h.title.lower()
    }


def test_date_filters_bound_both_ends(embedded: Database, hasher) -> None:
    ids = _filter_corpus(embedded)
    found = _walrus(
        embedded, hasher, filters=Filters(date_from=date(2024, 1, 1), date_to=date(2024, 12, 31))
    )
    assert found == {ids["middle"]}
    assert _walrus(embedded, hasher, filters=Filters(date_from=date(2024, 1, 1))) == {
        ids["middle"],
        ids["late"],
    }


def test_organization_filter_ignores_case(embedded: Database, hasher) -> None:
    ids = _filter_corpus(embedded)
    res = search.search(
        embedded, hasher, "walrus pruning", filters=Filters(organization="WALRUS LAB")
    )
    assert {h.id for h in res.hits} == {ids["early"], ids["middle"]}


def test_has_code_filter(embedded: Database, hasher) -> None:
    ids = _filter_corpus(embedded)
    # Seed papers whose abstracts link to code match too (catalogue/links.py): only the
    # walrus papers are checked here.
    assert _walrus(embedded, hasher, filters=Filters(has_code=True)) == {ids["early"]}


def test_min_upvotes_counts_votes_cast_here(embedded: Database, hasher) -> None:
    ids = _filter_corpus(embedded)
    assert _walrus(embedded, hasher, filters=Filters(min_upvotes=10)) == {
        ids["late"],
        ids["middle"],
    }
    with embedded.transaction() as conn:
        users = [
            conn.execute(
                "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id",
                (f"u{i}@x.org",),
            ).fetchone()["id"]
            for i in range(8)
        ]
        for uid in users:
            conn.execute(
                "INSERT INTO votes (user_id, paper_id) VALUES (%s, %s)", (uid, ids["early"])
            )
    found = search.search(embedded, hasher, "walrus pruning", filters=Filters(min_upvotes=11)).hits
    assert {h.id: h.upvotes for h in found} == {ids["late"]: 40, ids["early"]: 11}


def test_sort_by_date_and_by_upvotes(embedded: Database, hasher) -> None:
    ids = _filter_corpus(embedded)
    by_date = search.search(
        embedded,
        hasher,
        "walrus pruning",
        sort="date",
        per_page=100,
        filters=Filters(date_from=date(2023, 1, 1)),
    ).hits
    days = [h.listed_on or h.published_on for h in by_date]
    assert days == sorted(days, reverse=True)
    walruses = [h.id for h in by_date if h.id in ids.values()]
    assert walruses == [ids["late"], ids["middle"], ids["early"]]
    by_votes = search.search(embedded, hasher, "walrus pruning", sort="upvotes").hits
    assert [h.upvotes for h in by_votes] == sorted((h.upvotes for h in by_votes), reverse=True)
    with pytest.raises(SearchError):
        search.search(embedded, hasher, "walrus", sort="random")


def test_similar_excludes_itself_and_exact_duplicates(embedded: Database, hasher) -> None:
    a, b, c = add_papers(
        embedded,
        paper("Narwhal tusk sensing", "Narwhal sensing with tusks.", arxiv_id="2501.00001"),
        paper("Narwhal tusk sensing", "Narwhal sensing with tusks.", arxiv_id="2501.00002"),
        paper("Narwhal tusk sensing II", "Narwhal sensing with tusks, again."),
    )
    backfill.embed_pending(embedded, hasher)
    hits = search.similar(embedded, a, limit=5)
    found = [h.id for h in hits]
    assert a not in found and b not in found
    assert found[0] == c
    # Each score is the hit's cosine similarity to the paper, nearest first.
    with embedded.connection() as conn:
        vectors = {
            r["id"]: r["embedding"].to_numpy().astype(np.float64)
            for r in conn.execute(
                "SELECT id, embedding FROM papers WHERE id = ANY(%s)", ([a, *found],)
            ).fetchall()
        }
    for hit in hits:
        cosine = vectors[a] @ vectors[hit.id]
        cosine /= np.linalg.norm(vectors[a]) * np.linalg.norm(vectors[hit.id])
        assert hit.score == pytest.approx(cosine, abs=2e-3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_similar_can_be_restricted_to_recent_papers(embedded: Database, hasher) -> None:
    [a] = add_papers(embedded, paper("Okapi stripes", "Okapi stripes vision."))
    backfill.embed_pending(embedded, hasher)
    hits = search.similar(embedded, a, limit=10, recent_days=3650)
    assert hits
    cutoff = date.today().toordinal() - 3650
    assert all((h.listed_on or h.published_on).toordinal() >= cutoff for h in hits)
    older = {h.id for h in search.similar(embedded, a, limit=50)} - {h.id for h in hits}
    assert older, "some neighbour should be older than the cut-off"


def test_similar_of_unknown_paper_is_a_404(embedded: Database) -> None:
    with pytest.raises(SearchError) as err:
        search.similar(embedded, 10**9)
    assert err.value.status == 404


def test_similar_without_vector_falls_back_to_title_words(embedded: Database) -> None:
    [pid] = add_papers(embedded, paper("Kolmogorov-Arnold capybara networks"))
    hits = search.similar(embedded, pid, limit=3)
    assert hits and all("kolmogorov" in normalise_title(h.title) for h in hits)


def test_real_model_finds_a_paper_by_meaning(db: Database, minilm) -> None:
    ids = add_papers(
        db,
        paper("Low-rank adapters", "Adapting large language models with a small GPU footprint."),
        paper("Dolphin echolocation clicks", "Marine mammals produce clicks for navigation."),
        paper("Soil nitrogen cycles", "Bacteria fix nitrogen in farmland soils."),
        paper("Spiral galaxy rotation curves", "Dark matter explains flat rotation curves."),
    )
    assert backfill.embed_pending(db, minilm) == 4
    # No word of the query occurs in the paper: only its meaning can find it.
    # (Ranking every candidate: at cosine 0.32 with no keyword in common, the
    # calibrated relevance is ~0.03, below the cut-off; see docs/search.md.)
    with db.transaction() as conn:
        ranked = search.rank(
            conn, minilm, "make fine-tuning cheaper in memory", search.Filters(), cutoff=None
        )
    assert ranked[0].id == ids[0]
    assert ranked[0].relevance == max(r.relevance for r in ranked)


def test_trec_run_has_top_100_per_query_with_catalogue_ids(
    embedded: Database, hasher, tmp_path
) -> None:
    from paperfeed.app import Paperfeed
    from paperfeed.cli.search import write_trec
    from paperfeed.config import Settings

    pf = Paperfeed(Settings.from_env({}, home=tmp_path), database=embedded)
    out = tmp_path / "dev.run"
    write_trec(pf, hasher, [("q1", "language model training"), ("q2", "LoRA")], out)
    rows = [line.split() for line in out.read_text().splitlines()]
    with embedded.connection() as conn:
        known = {r["id"] for r in conn.execute("SELECT id FROM papers")}
    for qid in ("q1", "q2"):
        mine = [r for r in rows if r[0] == qid]
        assert len(mine) == 100
        assert [int(r[3]) for r in mine] == list(range(1, 101))
        assert all(r[1] == "Q0" and r[5] == "paperfeed" and int(r[2]) in known for r in mine)
        scores = [float(r[4]) for r in mine]
        assert scores == sorted(scores, reverse=True)


def test_a_pool_of_common_words_is_the_same_however_it_is_read(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sequentially or led by its rarest terms, a pool holds the same first matches as
    the plain index scan, and the sequential path leaves no planner settings behind."""
    from paperfeed.index import lexical

    monkeypatch.setattr(lexical, "RARE_DOCS", 0)  # every word counts as common: terms are ANDed
    with seeded.transaction() as conn:
        analysed = lexical.analyse(
            conn, lexical.parse("large language models"), lexical.TermStats().get(conn)
        )
        assert analysed.common_share > 0
        analysed = replace(analysed, blocks=())  # the whole-catalogue paths
        monkeypatch.setattr(lexical, "POOL", 7)  # fewer than the matches: a real cut-off
        monkeypatch.setattr(lexical, "SEQ_SCAN_SHARE", 2.0)  # never sequential
        by_index = lexical.candidates(conn, analysed, "", {}, 100)
        driven = lexical.candidates(conn, replace(analysed, driving="'larg'"), "", {}, 100)
        monkeypatch.setattr(lexical, "SEQ_SCAN_SHARE", 0.0)  # always sequential
        sequential = lexical.candidates(conn, analysed, "", {}, 100)
        settings = conn.execute(
            "SELECT current_setting('enable_indexscan') AS i,"
            " current_setting('enable_bitmapscan') AS b,"
            " current_setting('synchronize_seqscans') AS s"
        ).fetchone()
    assert len(by_index) == 7
    assert sequential == by_index
    assert driven == by_index  # led by one term's index entries, checked against all three
    assert settings == {"i": "on", "b": "on", "s": "on"}  # the transaction's planning is restored


def test_common_words_are_read_from_the_newest_blocks_first(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the catalogue in blocks of 40 ids, a query of common words pools the newest
    matches, block by block, and ranks exactly as the whole-catalogue scan when every
    match fits the pool."""
    from paperfeed.index import lexical

    monkeypatch.setattr(lexical, "RARE_DOCS", 0)
    monkeypatch.setattr(lexical, "BLOCK_PAPERS", 40)
    with seeded.connection() as conn:
        for block in (0, 1):  # the migration's blocks, of the real size
            conn.execute(f"DROP INDEX {lexical.BLOCK_INDEX}{block}")
        top = conn.execute("SELECT max(id) AS m FROM papers").fetchone()["m"]
    made = lexical.ensure_blocks(seeded.url)
    assert made == list(range((top - 1) // 40 + 2))  # up to one block past the newest paper
    assert lexical.ensure_blocks(seeded.url) == []
    with seeded.transaction() as conn:
        analysed = lexical.analyse(
            conn, lexical.parse("language models"), lexical.TermStats().get(conn)
        )
        assert analysed.blocks == tuple(made)
        everything = lexical.candidates(conn, replace(analysed, blocks=()), "", {}, 500)
        assert lexical.candidates(conn, analysed, "", {}, 500) == everything
        matches = sorted(pid for pid, _ in everything)
        monkeypatch.setattr(lexical, "POOL", 30)
        pooled = sorted(pid for pid, _ in lexical.candidates(conn, analysed, "", {}, 500))
    assert len(matches) > 30 and len(pooled) == 30
    # The pool is every match of the newest blocks it reached, and some of the oldest.
    oldest = (pooled[0] - 1) // 40
    assert [m for m in matches if (m - 1) // 40 > oldest] == [
        p for p in pooled if (p - 1) // 40 > oldest
    ]


def test_common_words_read_no_further_than_the_newest_blocks_walked(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However rare the combination of common words, the pool comes from the newest
    WALK_BLOCKS blocks only: the walk costs the same in any catalogue."""
    from paperfeed.index import lexical

    monkeypatch.setattr(lexical, "RARE_DOCS", 0)
    monkeypatch.setattr(lexical, "BLOCK_PAPERS", 40)
    with seeded.connection() as conn:
        for block in (0, 1):
            conn.execute(f"DROP INDEX {lexical.BLOCK_INDEX}{block}")
        top = conn.execute("SELECT max(id) AS m FROM papers").fetchone()["m"]
    lexical.ensure_blocks(seeded.url)
    newest = (top - 1) // 40
    monkeypatch.setattr(lexical, "WALK_BLOCKS", 2)
    with seeded.transaction() as conn:
        analysed = lexical.analyse(
            conn, lexical.parse("language models"), lexical.TermStats().get(conn)
        )
        everything = lexical.candidates(conn, replace(analysed, blocks=()), "", {}, 500)
        walked = lexical.candidates(conn, analysed, "", {}, 500)
    recent = [pid for pid, _ in everything if (pid - 1) // 40 >= newest - 1]
    assert len(everything) > len(recent) > 0  # older matches exist, and they are left out
    assert sorted(pid for pid, _ in walked) == sorted(recent)


def test_filtered_search_is_the_same_through_either_access_path(
    embedded: Database, hasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A date filter is either selective (its papers are the candidates: exact nearest
    neighbours, the day index may join the text index) or wide (only checked on the
    rows the text index and the HNSW graph find): the same results in the same order."""
    from paperfeed.index import lexical

    with embedded.connection() as conn:
        middle = conn.execute(
            "SELECT percentile_disc(0.5) WITHIN GROUP"
            " (ORDER BY coalesce(listed_on, published_on)) AS d FROM papers"
        ).fetchone()["d"]
    queries = ["language models", "diffusion image generation", "reinforcement learning agents"]
    for filters in (
        Filters(date_from=middle),
        Filters(date_from=middle, has_code=False),
        Filters(date_to=middle, min_upvotes=0),
    ):
        runs = []
        for prefilter in (0, 10**9):  # never selective, always selective
            monkeypatch.setattr(search, "PREFILTER_ROWS", prefilter)
            with embedded.transaction() as conn:
                runs.append(
                    [
                        [r.id for r in search.rank(conn, hasher, q, filters, cutoff=None)]
                        for q in queries
                    ]
                )
                analysed = lexical.analyse(
                    conn, lexical.parse(queries[0]), lexical.TermStats().get(conn)
                )
                pools = [
                    lexical.candidates(conn, analysed, *filters.sql(day_index=indexed), 100)
                    for indexed in (True, False)
                ]
                assert pools[0] == pools[1]
        assert runs[0] == runs[1]
        assert any(runs[0])


def test_a_selective_date_filter_counts_its_papers_up_to_the_threshold(
    embedded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "PREFILTER_ROWS", 5)
    with embedded.connection() as conn:
        total = conn.execute("SELECT count(*) AS n FROM papers").fetchone()["n"]
        assert search._day_rows(conn, Filters()) is None  # noqa: SLF001
        assert search._day_rows(conn, Filters(date_from=date(1900, 1, 1))) == 5  # noqa: SLF001
        assert search._day_rows(conn, Filters(date_to=date(1900, 1, 1))) == 0  # noqa: SLF001
    assert total > 5


def test_a_spare_connection_is_another_one_or_none_when_the_pool_is_full(
    embedded: Database,
) -> None:
    with embedded.transaction() as conn, embedded.spare_transaction() as spare:
        assert spare is not None and spare.info.backend_pid != conn.info.backend_pid
        assert spare.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    alone = Database(embedded.url, pool_size=1)
    try:
        with alone.transaction(), alone.spare_transaction() as spare:
            assert spare is None  # the only connection is the caller's: no waiting for it
    finally:
        alone.close()


def test_hybrid_search_finds_its_first_semantic_list_beside_the_keyword_list(
    embedded: Database, hasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first semantic pass runs on a second connection while the keyword list is
    found; with no connection to spare it runs on the search's own: the same results."""
    from paperfeed.index import lexical

    dense, candidates = search._dense, lexical.candidates  # noqa: SLF001
    keyword_pids: list[int] = []
    dense_pids: list[int] = []

    def spy_dense(conn, *args, exact=False, **kwargs):
        if not exact:  # an exact pass calls _dense again, without `exact`
            dense_pids.append(conn.info.backend_pid)
        return dense(conn, *args, exact=exact, **kwargs)

    def spy_candidates(conn, *args, **kwargs):
        keyword_pids.append(conn.info.backend_pid)
        return candidates(conn, *args, **kwargs)

    monkeypatch.setattr(search, "_dense", spy_dense)
    monkeypatch.setattr(lexical, "candidates", spy_candidates)
    queries = ["language models", "diffusion image generation"]
    recent = Filters(date_from=date(2024, 1, 1), has_code=True)
    alone = Database(embedded.url, pool_size=1)
    try:
        for filters in (Filters(), recent):
            runs, used = [], []
            for db in (embedded, alone):
                run, on_own = [], []
                for q in queries:
                    keyword_pids.clear()
                    dense_pids.clear()
                    run.append([h.id for h in search.search(db, hasher, q, filters).hits])
                    # One keyword list, then two semantic passes: on the search's own connection?
                    on_own.append([pid in keyword_pids for pid in dense_pids])
                runs.append(run)
                used.append(on_own)
            assert runs[0] == runs[1] and any(runs[0])
            assert used[0] == [[False, True]] * len(queries)  # the first pass beside only
            assert used[1] == [[True, True]] * len(queries)
    finally:
        alone.close()
