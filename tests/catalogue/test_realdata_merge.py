"""Cross-source merges of real files: a year-only BibTeX date never moves a dated paper."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed import catalogue
from paperfeed.db import Database
from paperfeed.sources import bibtex, hf_daily
from tests.sources.realdata import REALDATA

HF = REALDATA / "hf_daily" / "hfnews_zh_2025-07-15.json"
BIB = REALDATA / "bibtex_in_readme" / "opendatalab_REST_README_citation_lines144-152.bib"


def _import_hf(db: Database) -> None:
    catalogue.ingest(db, hf_daily.parse(HF.read_bytes(), HF.name), source="hf_daily", origin="hf")


def _import_bib(db: Database) -> None:
    catalogue.ingest(db, bibtex.read(BIB, origin=BIB.name), source="bibtex", origin="bib")


@pytest.mark.parametrize("order", ["hf first", "bib first"])
def test_rest_keeps_its_day_whichever_source_comes_first(db: Database, order: str) -> None:
    steps = [_import_hf, _import_bib] if order == "hf first" else [_import_bib, _import_hf]
    for step in steps:
        step(db)
    with db.connection() as conn:
        row = conn.execute(
            "SELECT published_on, published_precision, listed_on,"
            " (SELECT count(*) FROM paper_sources s WHERE s.paper_id = p.id) AS sightings"
            " FROM papers p WHERE arxiv_id = '2507.10541'"
        ).fetchone()
    assert row == {
        "published_on": date(2025, 7, 14),
        "published_precision": "day",
        "listed_on": date(2025, 7, 15),
        "sightings": 2,
    }


def test_a_year_only_paper_is_stored_with_its_precision(db: Database) -> None:
    _import_bib(db)
    with db.connection() as conn:
        row = conn.execute("SELECT published_on, published_precision FROM papers").fetchone()
    assert row == {"published_on": date(2025, 1, 1), "published_precision": "year"}
