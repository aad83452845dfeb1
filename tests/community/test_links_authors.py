"""Links and authors derived from imports: real abstracts and HF records, merge rules."""

from __future__ import annotations

import json

from paperfeed import catalogue
from paperfeed.catalogue import authors, derive, links
from paperfeed.db import Database
from paperfeed.model import Paper, Record, http_url
from paperfeed.sources import hf_daily, listing
from tests.conftest import SEEDS, SHARED

HF_2025 = SHARED / "realdata" / "hf_daily" / "hfnews_zh_2025-07-15.json"
HF_2026 = SHARED / "realdata" / "hf_daily" / "hfnews_zh_2026-08-21.json"


def _hf_items(path):
    return list(hf_daily.parse(path.read_bytes(), str(path)))


def test_http_url_accepts_only_http_and_https() -> None:
    assert http_url(" https://github.com/a/b ") == "https://github.com/a/b"
    assert http_url("HTTP://example.org") == "HTTP://example.org"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.org/x", "/local", "",
                "https://", "https://a b", 'https://x.org/"onmouseover=', "ftp://x.org/f"):
        assert http_url(bad) is None, bad


def test_classify_code_hosts_hugging_face_and_doi() -> None:
    cases = {
        "https://github.com/NVlabs/COAT.": ("code", "https://github.com/NVlabs/COAT"),
        "github.com/owner/repo.git": ("code", "https://github.com/owner/repo"),
        "https://gitlab.com/g/p/-/tree/main": ("code", "https://gitlab.com/g/p"),
        "https://codeberg.org/u/r": ("code", "https://codeberg.org/u/r"),
        "https://bitbucket.org/u/r/src": ("code", "https://bitbucket.org/u/r"),
        "https://huggingface.co/spaces/per/BenchBench": (
            "hf_space", "https://huggingface.co/spaces/per/BenchBench"),
        "https://huggingface.co/datasets/org/data": (
            "hf_dataset", "https://huggingface.co/datasets/org/data"),
        "huggingface.co/meta-llama/Llama-2-7b": (
            "hf_model", "https://huggingface.co/meta-llama/Llama-2-7b"),
        "https://doi.org/10.1103/PhysRevD.76.013009": (
            "doi", "https://doi.org/10.1103/PhysRevD.76.013009"),
        "https://tianyuanzhang.com/projects/ttt-done-right": (
            "project", "https://tianyuanzhang.com/projects/ttt-done-right"),
    }
    for raw, expected in cases.items():
        [url] = links.urls_in_text(f"Code: {raw}") if "://" not in raw else [raw]
        link = links.classify(url, "abstract")
        assert link is not None and (link.kind, link.url) == expected, raw
    for skipped in ("https://github.com/orgs/x", "https://github.com/user",
                    "https://huggingface.co/papers/2401.1", "https://arxiv.org/abs/2401.00001",
                    "javascript:alert(1)"):
        assert links.classify(skipped, "abstract") is None, skipped


def test_urls_in_text_stop_at_sentence_punctuation() -> None:
    text = ("Code is at https://github.com/a/b. Data (https://huggingface.co/datasets/c/d) "
            "and demo: huggingface.co/spaces/e/f, see also https://x.org/p_(1).")
    assert links.urls_in_text(text) == [
        "https://github.com/a/b",
        "https://huggingface.co/datasets/c/d",
        "https://huggingface.co/spaces/e/f",
        "https://x.org/p_(1)",
    ]
    # javascript: is never matched as a URL.
    assert links.urls_in_text("click javascript:alert(1) now") == []


def test_every_code_url_in_real_hf_abstracts_becomes_a_code_link() -> None:
    for path in (HF_2025, HF_2026):
        for item in _hf_items(path):
            found = links.extract(
                {"arxiv_id": item.paper.arxiv_id, "abstract": item.paper.abstract,
                 "github_url": item.paper.github_url},
                [item.raw],
            )
            kinds = [link.kind for link in found]
            assert kinds[:2] == ["arxiv", "pdf"]
            assert all(link.url.startswith("https://") for link in found)
            written = [u for u in links.urls_in_text(item.paper.abstract) if "github.com/" in u]
            codes = {link.url.lower() for link in found if link.kind == "code"}
            for url in written:
                assert links.classify(url, "x").url.lower() in codes
            if item.raw["paper"].get("projectPage"):
                assert {"project", "code", "hf_model", "hf_space"} & set(kinds)


def test_seed_abstract_links_are_extracted(db: Database) -> None:
    items = [i for p in SEEDS for i in listing.parse(p.read_bytes(), str(p), 2025)]
    catalogue.ingest(db, items, source="listing", origin="seeds")
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT p.abstract, l.url FROM paper_links l JOIN papers p ON p.id = l.paper_id"
            " WHERE l.kind = 'code' AND l.origin = 'abstract'"
        ).fetchall()
        pending = conn.execute("SELECT count(*) AS n FROM paper_derive_queue").fetchone()["n"]
    assert pending == 0
    assert len(rows) >= 10
    for row in rows:
        owner_repo = row["url"].split("github.com/")[-1] if "github.com" in row["url"] else ""
        assert owner_repo.lower() in row["abstract"].lower()


def test_hf_import_keeps_links_summary_and_author_order(db: Database) -> None:
    items = _hf_items(HF_2026)
    catalogue.ingest(db, items, source="hf_daily", origin=str(HF_2026))
    first = next(i for i in items if i.raw["paper"].get("projectPage"))
    with db.connection() as conn:
        pid = catalogue.paper_id_for_arxiv(conn, first.paper.arxiv_id)
        got = links.of_paper(conn, pid)
        names = [a["name"] for a in authors.of_paper(conn, pid)]
        summary = conn.execute(
            "SELECT summary, key_phrases, origin FROM paper_summaries WHERE paper_id = %s", (pid,)
        ).fetchone()
    assert names == list(first.paper.authors)
    assert any(link["origin"] == "projectPage" for link in got)
    assert summary["origin"] == "hf"
    assert summary["summary"] == " ".join(first.raw["paper"]["ai_summary"].split())
    assert summary["key_phrases"][:3] == first.raw["paper"]["ai_keywords"][:3]


def _ingest(db: Database, *papers: Paper) -> None:
    records = [Record(p, "test", f"k{i}:{p.title}", f"item {i}") for i, p in enumerate(papers)]
    catalogue.ingest(db, records, source="test", origin="fixture")


def test_names_are_normalised_and_variants_merged_conservatively(db: Database) -> None:
    _ingest(
        db,
        Paper("Graphs one", authors=("John Smith", "Ana Pérez", "Li Wei")),
        Paper("Graphs two", authors=("J. Smith", "Ana Perez")),  # shares Ana Pérez: merged
        Paper("Other", authors=("K. Jones", "Kate Jones", "Bo Chen")),  # same paper: two people
        Paper("Other two", authors=("Kate Jones", "Bo Chen")),
        Paper("Ambiguous", authors=("M. Brown", "Zed Zed")),
        Paper("Ambiguous two", authors=("Mary Brown", "Zed Zed")),
        Paper("Ambiguous three", authors=("Mark Brown", "Zed Zed")),  # two full candidates
        Paper("Smith, Jane comma", authors=("Doe, Jane", "et al.")),
    )
    with db.connection() as conn:
        john = authors.by_slug(conn, "john-smith")
        j = authors.by_slug(conn, "j-smith")
        assert j["merged_into"] == john["id"] and j["merged_slug"] == "john-smith"
        assert "Ana Pérez" in j["merge_reason"]
        assert authors.by_slug(conn, "ana-perez")["name"] == "Ana Pérez"
        assert authors.by_slug(conn, "k-jones")["merged_into"] is None
        assert authors.by_slug(conn, "m-brown")["merged_into"] is None
        assert authors.by_slug(conn, "jane-doe") is not None
        assert authors.by_slug(conn, "et-al") is None
        co = {c["slug"]: c["papers"] for c in authors.coauthors(conn, john["id"])}
    assert co == {"ana-perez": 2, "li-wei": 1}
    assert authors.slug_of("J. Smith") == "j-smith"


def test_changed_author_list_is_derived_again(db: Database) -> None:
    _ingest(db, Paper("Title A", authors=("A One",)))
    records = [Record(Paper("Title A", authors=("A One", "B Two")), "test2", "x", "p")]
    catalogue.ingest(db, records, source="test2", origin="fixture")
    with db.connection() as conn:
        pid = conn.execute("SELECT id FROM papers").fetchone()["id"]
        assert [a["name"] for a in authors.of_paper(conn, pid)] == ["A One", "B Two"]
    assert derive.pending(db) == 0


def test_raw_json_record_roundtrip_has_code_filter(db: Database) -> None:
    """A code URL only in the abstract makes the paper pass the has-code filter."""
    from paperfeed.index import search

    _ingest(
        db,
        Paper("Alpha graphs", abstract="Code: https://gitlab.com/x/alpha."),
        Paper("Beta graphs", abstract="No code here."),
    )
    found = search.search(db, None, "graphs", search.Filters(has_code=True), "relevance", 1, 10)
    assert [h.title for h in found.hits] == ["Alpha graphs"]
    assert json.dumps([h.title for h in found.hits])
