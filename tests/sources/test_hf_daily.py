"""Hugging Face daily papers: the parser on a recorded response, the client on a fake getter."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest

from paperfeed.model import BadRecord, Record, checked
from paperfeed.sources import SourceUnavailable, hf_daily
from paperfeed.sources.http import HttpResponse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hf"
DAY = FIXTURES / "daily_papers_2024-01-10.json"


def parse(data: bytes) -> list:
    return list(hf_daily.parse(data, "hf"))


def kinds(items: list) -> list[str]:
    return ["ok" if isinstance(item, Record) else "bad" for item in items]


def test_recorded_day_maps_every_field() -> None:
    items = parse(DAY.read_bytes())
    assert kinds(items) == ["ok", "ok", "bad", "bad", "ok"]
    first = items[0]
    assert (first.source, first.external_key, first.position) == (
        "hf_daily",
        "2401.05566",
        "hf: entry 1",
    )
    paper = first.paper
    assert paper.arxiv_id == "2401.05566"
    assert paper.title.endswith("in Yorùbá and Māori")
    assert paper.abstract.startswith("We study dense retrieval")
    assert paper.authors == ("Adébáyọ̀ Ọlárewájú", "Aroha Ngata", "Lukas Müller")
    assert paper.published_on == date(2024, 1, 10)  # paper.publishedAt: on arXiv
    assert paper.listed_on == date(2024, 1, 10)  # entry publishedAt: on the daily list
    assert paper.organization == "University of Auckland NLP"  # fullname before name
    assert paper.github_url == "https://github.com/lowres-ir/xling-dense"
    assert paper.upvotes == 42
    assert first.raw == json.loads(DAY.read_bytes())[0]  # the whole entry, as provenance


def test_entry_level_organization_and_fallbacks() -> None:
    items = parse(DAY.read_bytes())
    tiny = items[1].paper
    assert tiny.organization == "tiny-moe"  # no fullname: the name
    assert (tiny.published_on, tiny.listed_on) == (date(2024, 1, 8), date(2024, 1, 10))
    tokenizers = items[4].paper
    assert tokenizers.abstract == "Bigger vocabularies help, up to a point."  # entry summary
    assert tokenizers.upvotes == 8  # 8.0 in the JSON
    assert tokenizers.github_url is None  # null githubRepo
    assert tokenizers.authors == ()


def test_malformed_entries_in_the_middle_are_reported_by_position() -> None:
    bad = [item for item in parse(DAY.read_bytes()) if isinstance(item, BadRecord)]
    assert [(b.position, b.reason) for b in bad] == [
        ("hf: entry 3", "paper without an id"),
        ("hf: entry 4", "bad paper.publishedAt date '2024-02-30T09:00:00.000Z'"),
    ]


def test_records_pass_central_validation() -> None:
    validated = [i for i in checked(parse(DAY.read_bytes())) if isinstance(i, Record)]
    assert len(validated) == 3


def test_empty_day() -> None:
    assert parse((FIXTURES / "daily_papers_empty.json").read_bytes()) == []


def test_api_error_object_is_one_bad_record() -> None:
    items = parse((FIXTURES / "daily_papers_error.json").read_bytes())
    assert len(items) == 1
    assert items[0].position == "hf"
    assert "Invalid date format" in items[0].reason


def test_truncated_response_keeps_the_entries_before_the_cut() -> None:
    data = DAY.read_bytes()
    items = parse(data[: data.index(b"An Entry With an Impossible Date")])
    assert kinds(items) == ["ok", "ok", "bad", "bad"]
    assert items[-1].position == "hf: entry 4"
    assert "malformed JSON" in items[-1].reason


def test_invalid_utf8_costs_only_the_entry_that_holds_it() -> None:
    data = DAY.read_bytes().replace(b"Mixture of Tiny Experts", b"Mixture of \xc3\x28 Experts", 1)
    items = parse(data)
    assert kinds(items) == ["ok", "bad", "bad", "bad", "ok"]
    assert items[1].reason == "invalid UTF-8 in the entry"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (1, "entry without a paper object"),
        ({"paper": "2401.00001"}, "entry without a paper object"),
        ({"paper": {"id": 2401}}, "id is not a string: int"),
        ({"paper": {"id": "2401.00001", "title": ["x"]}}, "title is not a string: list"),
        (
            {"paper": {"id": "2401.00001", "upvotes": "12"}},
            "paper.upvotes is not a whole number: '12'",
        ),
        (
            {"paper": {"id": "2401.00001", "upvotes": 1.5}},
            "paper.upvotes is not a whole number: 1.5",
        ),
        ({"paper": {"id": "2401.00001", "authors": "A, B"}}, "paper.authors is not a list"),
        (
            {"paper": {"id": "2401.00001"}, "publishedAt": 20240110},
            "publishedAt is not a string: int",
        ),
    ],
)
def test_wrongly_typed_entries(entry: object, reason: str) -> None:
    items = parse(json.dumps([entry]).encode())
    assert [(type(i), getattr(i, "reason", None)) for i in items] == [(BadRecord, reason)]


def test_garbage_after_the_list_is_reported() -> None:
    items = parse(b'[{"paper": {"id": "2401.00001", "title": "T"}}] trailing')
    assert kinds(items) == ["ok", "bad"]


# ---------------------------------------------------------------- fetch


class FakeGet:
    def __init__(self, response: HttpResponse | Exception) -> None:
        self.response = response
        self.calls: list[tuple[str, dict[str, str], float]] = []

    def __call__(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        self.calls.append((url, dict(headers), timeout))
        if isinstance(self.response, Exception):
            raise self.response
        return self.response


def test_fetch_asks_for_the_day_and_parses_the_answer() -> None:
    get = FakeGet(HttpResponse(200, {}, DAY.read_bytes()))
    items = list(hf_daily.fetch(date(2024, 1, 10), http_get=get, timeout=12.5))
    assert kinds(items) == ["ok", "ok", "bad", "bad", "ok"]
    url, headers, timeout = get.calls[0]
    assert url == "https://huggingface.co/api/daily_papers?date=2024-01-10"
    assert headers["User-Agent"].startswith("paperfeed/")
    assert timeout == 12.5
    assert items[0].position == f"{url}: entry 1"


def test_fetch_turns_network_failure_into_source_unavailable() -> None:
    get = FakeGet(TimeoutError("timed out"))
    with pytest.raises(SourceUnavailable, match=r"daily_papers\?date=2024-01-10: network error"):
        hf_daily.fetch(date(2024, 1, 10), http_get=get)


def test_fetch_turns_http_errors_into_source_unavailable() -> None:
    get = FakeGet(HttpResponse(502, {}, b"<html>Bad gateway</html>"))
    with pytest.raises(SourceUnavailable, match="HTTP 502"):
        hf_daily.fetch(date(2024, 1, 10), http_get=get)
