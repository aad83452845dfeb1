"""arXiv Atom and OAI-PMH parsers on recorded responses, and the polite client on fakes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from paperfeed.model import BadRecord, Record, checked
from paperfeed.sources import SourceUnavailable, arxiv
from paperfeed.sources.arxiv import ArxivClient
from paperfeed.sources.http import HttpResponse, header, urllib_get
from paperfeed.sources.text import find_github_url, split_author_list

FIXTURES = Path(__file__).parent.parent / "fixtures" / "arxiv"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def kinds(items: list) -> list[str]:
    return ["ok" if isinstance(item, Record) else "bad" for item in items]


# ---------------------------------------------------------------- Atom


def test_atom_page_maps_every_field_of_a_full_entry() -> None:
    page = arxiv.parse_atom(fixture("atom_page1.xml"), "page1")
    assert (page.total_results, page.entries, page.complete) == (4, 3, True)
    assert kinds(page.items) == ["ok", "bad", "ok"]
    record = page.items[0]
    assert record.source == "arxiv"
    assert record.external_key == "2401.05566"  # the version suffix is not identity
    assert record.position == "page1: entry 1"
    paper = record.paper
    assert paper.arxiv_id == "2401.05566"
    assert " ".join(paper.title.split()) == (  # Atom titles are hard-wrapped
        "Dense Retrieval for Low-Resource Languages: "
        "A Study of Cross-Lingual Transfer in Yorùbá and Māori"
    )
    assert paper.abstract.startswith("We study dense retrieval")
    assert paper.authors == ("Adébáyọ̀ Ọlárewájú", "Aroha Ngata", "Lukas Müller")
    assert paper.doi == "10.18653/v1/2024.acl-long.12"
    assert paper.published_on == date(2024, 1, 10)
    assert paper.categories == ("cs.IR", "cs.CL")  # primary first, no repeats
    assert paper.github_url == "https://github.com/lowres-ir/xling-dense"  # trailing "." dropped
    assert record.raw["pdf"] == "http://arxiv.org/pdf/2401.05566v2"
    assert record.raw["updated"] == "2024-01-11T17:02:11Z"
    assert record.raw["comment"] == "ACL 2024, 14 pages"


def test_atom_entry_with_impossible_date_is_reported_and_the_rest_kept() -> None:
    page = arxiv.parse_atom(fixture("atom_page1.xml"), "page1")
    bad = page.items[1]
    assert bad.position == "page1: entry 2"
    assert "2024-02-30" in bad.reason


def test_atom_old_style_id_and_day_as_written() -> None:
    paper = arxiv.parse_atom(fixture("atom_page1.xml"), "page1").items[2].paper
    assert paper.arxiv_id == "hep-th/9901001"
    # 22:15 at -05:00 is already the next day in UTC; arXiv shows the day written.
    assert paper.published_on == date(1999, 1, 4)
    assert paper.github_url == "https://github.com/old-physics/orbifold-tools"


def test_atom_api_error_feed_becomes_one_bad_record() -> None:
    page = arxiv.parse_atom(fixture("atom_error.xml"), "q")
    assert len(page.items) == 1
    assert isinstance(page.items[0], BadRecord)
    assert "incorrect id format for 1234.1234v1234" in page.items[0].reason


def test_truncated_atom_keeps_the_entries_before_the_cut() -> None:
    data = fixture("atom_page1.xml")
    cut = data.index(b"Strings on Orbifolds")
    page = arxiv.parse_atom(data[:cut], "cut")
    assert page.complete is False
    assert kinds(page.items) == ["ok", "bad", "bad"]
    assert page.items[0].external_key == "2401.05566"
    assert "malformed XML" in page.items[2].reason


def test_invalid_utf8_costs_only_the_entry_that_holds_it() -> None:
    data = fixture("atom_page1.xml").replace(
        b"Strings on Orbifolds", b"Strings on \xff\xfe Orbifolds"
    )
    page = arxiv.parse_atom(data, "p")
    assert page.complete is True
    assert kinds(page.items) == ["ok", "bad", "bad"]
    assert page.items[2].reason == "invalid UTF-8 in the record"
    assert page.items[2].position == "p: entry 3"


def test_doctype_is_refused_before_any_entity_is_expanded() -> None:
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>&lol2;</id></entry></feed>"""
    page = arxiv.parse_atom(bomb, "bomb")
    assert [type(i) for i in page.items] == [BadRecord]
    assert "DOCTYPE" in page.items[0].reason
    assert page.complete is False


def test_atom_records_pass_central_validation() -> None:
    items = list(checked(arxiv.parse_atom(fixture("atom_page2.xml"), "p2").items))
    assert [i.paper.authors for i in items] == [("Chen Wei", "李明")]


# ---------------------------------------------------------------- OAI-PMH


def test_oai_arxiv_page_with_deleted_and_malformed_records() -> None:
    page = arxiv.parse_oai(fixture("oai_arxiv_page1.xml"), "oai1")
    assert page.resumption_token == "6961374|1001"
    assert page.complete_list_size == 6
    assert page.response_date == datetime(2024, 1, 10, 12, 0, 5, tzinfo=UTC)
    assert page.deleted == 1
    assert page.error is None
    assert kinds(page.items) == ["ok", "bad", "ok"]
    assert [i.position for i in page.items] == [
        "oai1: record 1",
        "oai1: record 3",
        "oai1: record 4",
    ]
    assert "2023-02-30" in page.items[1].reason
    first = page.items[0]
    assert first.external_key == "2401.03001"
    assert first.paper.authors == (
        "María José García-López",
        "John Smith Jr",
        "The ATLAS Collaboration",
    )
    assert first.paper.published_on == date(2024, 1, 5)  # <created>, not <updated>
    assert first.paper.doi == "10.1145/3600006.3613134"  # the first of two
    assert first.paper.categories == ("cs.CL", "cs.LG")
    assert first.paper.github_url == "https://github.com/mjgl/sparse-attn-survey"
    assert first.raw["format"] == "arXiv"
    assert first.raw["updated"] == "2024-01-07"
    assert first.raw["sets"] == ["cs"]
    assert (
        page.items[2].paper.title == "Graph Algorithms with Provable Guarantees & Practical Speed"
    )


def test_oai_last_page_has_an_empty_token() -> None:
    page = arxiv.parse_oai(fixture("oai_arxiv_page2.xml"), "oai2")
    assert page.resumption_token is None
    assert [i.external_key for i in page.items] == ["2401.03005", "2401.03006"]


def test_oai_arxivraw_splits_the_author_string_and_dates_from_v1() -> None:
    page = arxiv.parse_oai(fixture("oai_arxivraw.xml"), "raw")
    assert kinds(page.items) == ["ok", "ok", "bad"]
    first, perelman, bad = page.items
    assert first.paper.authors == (
        "María José García-López",
        "John Smith Jr",
        "The ATLAS Collaboration",
    )
    # v1 at 23:30 GMT on Jan 5; v2 two days later does not move the date.
    assert first.paper.published_on == date(2024, 1, 5)
    assert first.raw["submitter"] == "María José García-López"
    assert [v["version"] for v in first.raw["versions"]] == ["v1", "v2"]
    assert perelman.external_key == "math/0211159"
    assert perelman.paper.published_on == date(2002, 11, 11)
    assert "yesterday-ish" in bad.reason


def test_oai_no_records_match_is_an_empty_page_not_an_error() -> None:
    page = arxiv.parse_oai(fixture("oai_no_records.xml"), "none")
    assert (page.items, page.error, page.resumption_token) == ([], None, None)
    assert page.response_date == datetime(2024, 1, 11, 8, 0, tzinfo=UTC)


def test_oai_protocol_error_is_reported() -> None:
    page = arxiv.parse_oai(fixture("oai_bad_token.xml"), "bad")
    assert page.error is not None and "badResumptionToken" in page.error
    assert len(page.items) == 1 and isinstance(page.items[0], BadRecord)


def test_truncated_oai_page_has_no_token_to_follow() -> None:
    data = fixture("oai_arxiv_page1.xml")
    page = arxiv.parse_oai(data[: data.index(b"<id>2401.03004")], "cut")
    assert page.complete is False
    assert page.resumption_token is None
    assert kinds(page.items) == ["ok", "bad", "bad"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Jane Doe", ["Jane Doe"]),
        ("Jane Doe and John Roe", ["Jane Doe", "John Roe"]),
        ("A. One, B. Two, and C. Three", ["A. One", "B. Two", "C. Three"]),
        ("A. One (1), B. Two (2) ((1) MIT, (2) ETH Zürich)", ["A. One", "B. Two"]),
        ("Anderson Silva,\n  Brandon Lee", ["Anderson Silva", "Brandon Lee"]),
    ],
)
def test_split_author_list(text: str, names: list[str]) -> None:
    assert split_author_list(text) == names


@pytest.mark.parametrize(
    ("texts", "url"),
    [
        (("see https://github.com/a/b.",), "https://github.com/a/b"),
        (("(github.com/a/b-c_d)",), "https://github.com/a/b-c_d"),
        (("git: https://www.github.com/a/b.git",), "https://github.com/a/b"),
        (("no code", "code: http://github.com/x/y}"), "https://github.com/x/y"),
        (("https://github.com/onlyowner",), None),
        ((None, ""), None),
    ],
)
def test_find_github_url(texts: tuple, url: str | None) -> None:
    assert find_github_url(*texts) == url


# ---------------------------------------------------------------- the client


class FakeClock:
    """A monotonic clock that only moves when slept on (or when a request takes time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeHttp:
    """Replays scripted responses (or raises scripted errors) and records each request."""

    def __init__(self, clock: FakeClock, responses: list, request_time: float = 0.0) -> None:
        self.clock = clock
        self.responses = list(responses)
        self.request_time = request_time
        self.calls: list[tuple[str, dict[str, str], float, float]] = []

    def __call__(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        self.calls.append((url, dict(headers), timeout, self.clock.now))
        self.clock.now += self.request_time
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response


def ok(body: bytes) -> HttpResponse:
    return HttpResponse(200, {"Content-Type": "text/xml"}, body)


def make_client(
    responses: list, request_time: float = 0.0
) -> tuple[ArxivClient, FakeHttp, FakeClock]:
    clock = FakeClock()
    http = FakeHttp(clock, responses, request_time)
    client = ArxivClient(http_get=http, sleep=clock.sleep, clock=clock)
    return client, http, clock


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_harvest_follows_the_resumption_token_and_reports_the_response_date() -> None:
    client, http, clock = make_client(
        [ok(fixture("oai_arxiv_page1.xml")), ok(fixture("oai_arxiv_page2.xml"))]
    )
    items = list(client.harvest("cs", date(2024, 1, 8)))
    assert kinds(items) == ["ok", "bad", "ok", "ok", "ok"]
    first, second = (query(call[0]) for call in http.calls)
    assert first == {
        "verb": ["ListRecords"],
        "metadataPrefix": ["arXiv"],
        "set": ["cs"],
        "from": ["2024-01-08"],
    }
    # A resumed request carries only the verb and the token (OAI-PMH forbids the rest).
    assert second == {"verb": ["ListRecords"], "resumptionToken": ["6961374|1001"]}
    assert clock.sleeps == [3.0]  # the polite pause between the two pages
    assert client.response_date == datetime(2024, 1, 10, 12, 0, 5, tzinfo=UTC)  # first page's
    assert http.calls[0][1]["User-Agent"].startswith("paperfeed/")
    assert http.calls[0][2] == client.timeout


def test_harvest_without_set_or_since_asks_for_everything() -> None:
    client, http, _ = make_client([ok(fixture("oai_no_records.xml"))])
    assert list(client.harvest(None, None, metadata_prefix="arXivRaw")) == []
    assert query(http.calls[0][0]) == {"verb": ["ListRecords"], "metadataPrefix": ["arXivRaw"]}
    assert client.response_date == datetime(2024, 1, 11, 8, 0, tzinfo=UTC)


def test_503_with_retry_after_is_waited_out_then_retried() -> None:
    client, http, clock = make_client(
        [HttpResponse(503, {"retry-after": "7"}, b"busy"), ok(fixture("oai_arxiv_page2.xml"))]
    )
    items = list(client.harvest("cs", None))
    assert len(items) == 2
    assert clock.sleeps == [7.0]  # Retry-After already covers the 3 s interval
    assert [call[3] for call in http.calls] == [1000.0, 1007.0]


def test_503_without_retry_after_backs_off_exponentially() -> None:
    busy = HttpResponse(503, {}, b"")
    client, http, clock = make_client([busy, busy, ok(fixture("oai_arxiv_page2.xml"))])
    list(client.harvest("cs", None))
    assert clock.sleeps == [5.0, 10.0]


def test_network_errors_are_retried() -> None:
    client, http, clock = make_client(
        [OSError("connection reset"), ok(fixture("oai_arxiv_page2.xml"))]
    )
    assert len(list(client.harvest("cs", None))) == 2
    assert len(http.calls) == 2


def test_a_source_that_keeps_failing_raises_source_unavailable() -> None:
    client, http, clock = make_client([HttpResponse(503, {"Retry-After": "1"}, b"")] * 6)
    with pytest.raises(SourceUnavailable, match="HTTP 503 after 6 attempts"):
        list(client.harvest("cs", None))
    assert len(http.calls) == client.max_retries + 1
    assert client.response_date is None


def test_client_errors_are_not_retried() -> None:
    client, http, _ = make_client([HttpResponse(404, {}, b"not found")])
    with pytest.raises(SourceUnavailable, match="HTTP 404"):
        list(client.search("all:retrieval"))
    assert len(http.calls) == 1


def test_oai_error_mid_harvest_raises_and_leaves_no_response_date() -> None:
    client, _, _ = make_client(
        [ok(fixture("oai_arxiv_page1.xml")), ok(fixture("oai_bad_token.xml"))]
    )
    seen = []
    with pytest.raises(SourceUnavailable, match="badResumptionToken"):
        for item in client.harvest("cs", None):
            seen.append(item)
    assert len(seen) == 3  # the first page was delivered
    assert client.response_date is None  # so the caller does not advance `since`


def test_a_truncated_page_is_fetched_again_before_anything_is_yielded() -> None:
    full = fixture("oai_arxiv_page2.xml")
    client, http, clock = make_client([ok(full[: len(full) // 2]), ok(full)])
    items = list(client.harvest("cs", None))
    assert [i.external_key for i in items] == ["2401.03005", "2401.03006"]  # no duplicates
    assert len(http.calls) == 2


def test_search_pages_through_the_atom_api_until_total_results() -> None:
    client, http, clock = make_client(
        [ok(fixture("atom_page1.xml")), ok(fixture("atom_page2.xml"))], request_time=1.0
    )
    items = list(client.search("all:retrieval", max_results=10, page_size=3))
    assert kinds(items) == ["ok", "bad", "ok", "ok"]
    pages = [query(call[0]) for call in http.calls]
    assert [(p["start"], p["max_results"]) for p in pages] == [(["0"], ["3"]), (["3"], ["3"])]
    assert pages[0]["search_query"] == ["all:retrieval"]
    assert pages[0]["sortBy"] == ["submittedDate"]
    assert clock.sleeps == [2.0]  # 3 s between request starts, 1 s spent in the first


def test_search_stops_at_max_results() -> None:
    client, http, _ = make_client([ok(fixture("atom_page1.xml"))])
    list(client.search("all:retrieval", max_results=3, page_size=100))
    assert len(http.calls) == 1
    assert query(http.calls[0][0])["max_results"] == ["3"]


# ---------------------------------------------------------------- the default getter


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        if self.path.startswith("/busy"):
            self.send_response(503)
            self.send_header("Retry-After", "12")
            self.end_headers()
            self.wfile.write(b"try later")
            return
        body = self.headers["User-Agent"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urllib_get_returns_bodies_and_error_statuses(local_server: str) -> None:
    response = urllib_get(f"{local_server}/ok", {"User-Agent": "paperfeed-test"}, 5.0)
    assert (response.status, response.body) == (200, b"paperfeed-test")
    busy = urllib_get(f"{local_server}/busy", {"User-Agent": "x"}, 5.0)
    assert busy.status == 503
    assert header(busy.headers, "retry-after") == "12"


def test_urllib_get_raises_oserror_when_nothing_listens() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.server_close()  # the port is now (almost certainly) closed
    with pytest.raises(OSError):
        urllib_get(f"http://127.0.0.1:{port}/", {}, 5.0)


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:1/", "http://paperfeed-test.invalid/"], ids=["refused", "dns"]
)
def test_an_unreachable_host_fails_at_once_without_retrying(target: str) -> None:
    clock = FakeClock()
    calls: list[str] = []

    def unreachable(url: str, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        calls.append(url)
        return urllib_get(target, headers, 5.0)

    client = ArxivClient(http_get=unreachable, sleep=clock.sleep, clock=clock)
    with pytest.raises(SourceUnavailable, match="network error"):
        list(client.harvest("cs", None))
    assert len(calls) == 1 and clock.sleeps == []


def test_each_retry_is_logged_with_its_wait(caplog: pytest.LogCaptureFixture) -> None:
    busy = HttpResponse(503, {}, b"")
    client, _, _ = make_client([busy, OSError("timed out"), ok(fixture("oai_arxiv_page2.xml"))])
    with caplog.at_level(logging.WARNING, logger="paperfeed.sources.arxiv"):
        list(client.harvest("cs", None))
    assert [r.getMessage() for r in caplog.records] == [
        "arXiv: HTTP 503; retrying in 5 s (attempt 2 of 6)",
        "arXiv: network error: timed out; retrying in 10 s (attempt 3 of 6)",
    ]
