"""The readers added for issue 13 on fixtures written from their published specs.

CSL-JSON (citeproc-js / CSL schema), RIS (EndNote/Zotero tags), OpenAlex works, Semantic
Scholar Graph and Datasets API, Hugging Face /api/papers/{id}, the Kaggle snapshot.
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

from paperfeed.model import DAY, MONTH, YEAR
from paperfeed.sources import csl_json, hf_daily, openalex, ris, semantic_scholar
from tests.conftest import FIXTURES
from tests.sources.realdata import split


def test_csl_json_zotero_export() -> None:
    good, bad = split(csl_json.read(FIXTURES / "csl" / "zotero_export.json"))
    assert len(good) == 3 and len(bad) == 2
    attention, lecun, symphonies = (r.paper for r in good)
    assert attention.arxiv_id == "1706.03762"
    assert attention.authors == ("Ashish Vaswani", "Noam Shazeer", "Łukasz Kaiser")
    assert (attention.published_on, attention.published_precision) == (date(2017, 6, 12), DAY)
    assert (lecun.published_on, lecun.published_precision) == (date(1998, 11, 1), MONTH)
    assert lecun.doi == "10.1109/5.726791" and lecun.arxiv_id is None
    assert symphonies.authors == ("Ludwig van Beethoven", "Berliner Philharmoniker")
    assert symphonies.published_precision == YEAR
    assert good[0].external_key == "zotero_export.json#http://zotero.org/users/1234/items/ABCD1234"
    assert [b.reason for b in bad] == [
        "missing title",
        "impossible issued date {'date-parts': [[2021, 2, 30]]}",
    ]


def test_ris_endnote_export_with_crlf_and_wrapped_lines() -> None:
    good, bad = split(ris.read(FIXTURES / "ris" / "endnote_export.ris"))
    assert len(good) == 3 and len(bad) == 2
    attention, resnet, book = (r.paper for r in good)
    assert attention.title == "Attention Is All You Need"
    assert attention.authors == ("Ashish Vaswani", "Noam Shazeer", "Niki Parmar")
    assert attention.abstract.endswith("in an encoder-decoder configuration.")
    assert attention.arxiv_id == "1706.03762"
    assert (attention.published_on, attention.published_precision) == (date(2017, 6, 12), DAY)
    assert good[0].external_key == "endnote_export.ris#vaswani2017"
    assert resnet.authors[0] == "Kaiming He" and resnet.published_precision == YEAR
    assert resnet.github_url == "https://github.com/KaimingHe/deep-residual-networks"
    assert resnet.doi == "10.1109/cvpr.2016.90"
    assert book.authors == ("Ian Goodfellow",)  # "et al." is no one
    assert (book.published_on, book.published_precision) == (date(2016, 11, 1), MONTH)
    assert "no title" in bad[0].reason and "impossible date" in bad[1].reason


def test_openalex_api_response() -> None:
    good, bad = split(openalex.read(FIXTURES / "openalex" / "works_response.json"))
    assert bad == [] and [r.external_key for r in good] == ["W2963403868", "W2741809807"]
    attention, oa = (r.paper for r in good)
    assert attention.abstract == "The dominant sequence transduction models are based The complex"
    assert attention.arxiv_id == "1706.03762"  # from the arXiv DOI / landing page
    assert attention.authors == ("Ashish Vaswani", "Noam Shazeer")
    assert oa.doi == "10.7717/peerj.4375" and oa.abstract == ""
    assert oa.authors == ("Heather Piwowar", "Stefanie Haustein")  # raw_author_name fallback
    assert oa.published_on == date(2018, 2, 13)


def test_openalex_snapshot_lines_gzipped(tmp_path: Path) -> None:
    packed = tmp_path / "part_000.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "openalex" / "works_snapshot.jsonl").read_bytes()))
    good, bad = split(openalex.read(packed))
    assert len(good) == 1 and len(bad) == 2
    assert good[0].paper.arxiv_id == "2301.00001"
    assert (good[0].paper.published_on, good[0].paper.published_precision) == (
        date(2023, 1, 1),
        YEAR,
    )
    assert good[0].paper.abstract == "Short abstract."
    assert "position" in bad[0].reason and "impossible publication_date" in bad[1].reason


def test_semantic_scholar_search_batch_and_dataset() -> None:
    good, bad = split(semantic_scholar.read(FIXTURES / "semantic_scholar" / "search_response.json"))
    assert len(good) == 2 and len(bad) == 1 and "bad publicationDate" in bad[0].reason
    attention, resnet = (r.paper for r in good)
    assert attention.arxiv_id == "1706.03762" and attention.published_on == date(2017, 6, 12)
    assert resnet.doi == "10.1109/cvpr.2016.90" and resnet.published_precision == YEAR
    assert good[0].external_key == "204e3073870fae3d05bcbc2f6a8e263d9b72e776"
    good, bad = split(semantic_scholar.read(FIXTURES / "semantic_scholar" / "batch_response.json"))
    assert len(good) == 1 and "null in a batch response" in bad[0].reason
    good, bad = split(semantic_scholar.read(FIXTURES / "semantic_scholar" / "papers_dataset.jsonl"))
    assert bad == [] and [r.external_key for r in good] == ["corpus:13756489", "corpus:206594692"]
    assert good[0].paper.arxiv_id == "1706.03762"


def test_hugging_face_single_paper_object_keeps_ai_fields() -> None:
    path = FIXTURES / "hf" / "paper_2507.10541.json"
    (record,), bad = split(hf_daily.parse(path.read_bytes(), path.name))
    assert bad == []
    assert record.paper.arxiv_id == "2507.10541"
    assert record.paper.listed_on == date(2025, 7, 15)  # submittedOnDailyAt
    assert record.paper.published_on == date(2025, 7, 14)
    assert record.paper.upvotes == 29
    assert record.raw["paper"]["ai_keywords"] == [
        "Large Reasoning Models",
        "stress testing",
        "multi-context",
    ]
    assert record.raw["paper"]["ai_summary"].startswith("REST evaluates")
