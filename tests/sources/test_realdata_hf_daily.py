"""Every real Hugging Face daily-papers response in ../shared/realdata (issue 13, defect 1)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from paperfeed.sources import hf_daily
from tests.sources.realdata import by_key, files, split

DAILY = files("hf_daily", "*.json")
# file → (accepted, rejected); 2024-12-11 was damaged by its collector (Python reprs).
EXPECTED = {
    "hfnews_zh_2024-05-27.json": (13, 0),
    "hfnews_zh_2024-10-25.json": (25, 0),
    "hfnews_zh_2024-12-11.json": (0, 26),
    "hfnews_zh_2025-05-28.json": (39, 0),
    "hfnews_zh_2025-07-15.json": (10, 0),
    "hfnews_zh_2026-08-21.json": (17, 0),
}


def read(name: str):
    path = next(p for p in DAILY if p.name == name)
    return split(hf_daily.parse(path.read_bytes(), name))


def test_every_real_file_is_read() -> None:
    assert sorted(p.name for p in DAILY) == sorted(EXPECTED)


@pytest.mark.parametrize("path", DAILY, ids=lambda p: p.name)
def test_every_entry_is_accepted_or_rejected(path) -> None:
    good, bad = split(hf_daily.parse(path.read_bytes(), path.name))
    assert len(good) + len(bad) == len(json.loads(path.read_bytes()))
    assert (len(good), len(bad)) == EXPECTED[path.name]
    for record in good:
        assert record.paper.arxiv_id and record.paper.title and record.paper.listed_on


@pytest.mark.parametrize(
    "name", ["hfnews_zh_2025-05-28.json", "hfnews_zh_2025-07-15.json", "hfnews_zh_2026-08-21.json"]
)
def test_papers_are_listed_on_the_day_they_entered_the_list(name: str) -> None:
    """Since 2025 the top-level publishedAt is the arXiv time; submittedOnDailyAt is the day."""
    good, _ = read(name)
    day = date.fromisoformat(name.removeprefix("hfnews_zh_").removesuffix(".json"))
    assert [r.paper.listed_on for r in good] == [day] * len(good)


def test_named_papers_get_their_listing_and_publication_days() -> None:
    july = by_key(read("hfnews_zh_2025-07-15.json")[0])
    rest = july["2507.10541"].paper
    assert (rest.listed_on, rest.published_on) == (date(2025, 7, 15), date(2025, 7, 14))
    may = by_key(read("hfnews_zh_2025-05-28.json")[0])
    paper = may["2505.11277"].paper  # twelve days between arXiv and the list
    assert (paper.listed_on, paper.published_on) == (date(2025, 5, 28), date(2025, 5, 16))


def test_older_responses_without_submitted_on_daily_at_keep_the_top_level_day() -> None:
    good, _ = read("hfnews_zh_2024-05-27.json")
    assert {r.paper.listed_on for r in good} == {date(2024, 5, 27)}


def test_ai_summary_and_keywords_stay_in_the_raw_record() -> None:
    good, _ = read("hfnews_zh_2025-07-15.json")
    raw = by_key(good)["2507.10548"].raw
    assert raw["paper"]["ai_summary"].startswith("A new dataset, EmRACE-3K")
    assert raw["paper"]["ai_keywords"]
