"""JSONL: the export round-trips losslessly; plain lines import; bad lines are reported."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from functools import reduce
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperfeed.model import BadRecord, Paper, Record, checked, merge
from paperfeed.sources import jsonl

EXPORT = Path(__file__).parent.parent / "fixtures" / "jsonl" / "export.jsonl"

PAPER = Paper(
    title="Dense Retrieval for Low-Resource Languages",
    abstract="We study dense retrieval.\nTwo lines, a \u2028 line separator and a tab\t.",
    arxiv_id="2401.05566",
    doi="10.18653/v1/2024.acl-long.12",
    authors=("Adébáyọ̀ Ọlárewájú", "Aroha Ngata"),
    author_count=2,
    organization="University of Auckland NLP",
    published_on=date(2024, 1, 10),
    listed_on=date(2024, 1, 11),
    github_url="https://github.com/lowres-ir/xling-dense",
    upvotes=42,
    categories=("cs.IR", "cs.CL"),
)
SOURCES = [
    {
        "source": "arxiv",
        "external_key": "2401.05566",
        "first_seen": datetime(2024, 1, 10, 20, 0, 1, 250000, tzinfo=UTC),
        "last_seen": datetime(2024, 1, 12, 3, 0, tzinfo=UTC),
        "upvotes": 0,
        "raw": {"format": "atom", "nested": {"list": [1, 2.5, None, True]}},
    },
    {
        "source": "hf_daily",
        "external_key": "2401.05566",
        "first_seen": "2024-01-11T06:30:00+00:00",  # as PostgreSQL's json_agg writes it
        "last_seen": "2024-01-11T06:30:00+00:00",
        "upvotes": 42,
        "raw": {"paper": {"id": "2401.05566"}},
    },
]


def read_text(text: str) -> list:
    return list(jsonl.parse(text.encode(), "f.jsonl"))


# ---------------------------------------------------------------- export → import


def test_dump_is_one_line_with_the_documented_keys_in_order() -> None:
    line = jsonl.dump_paper(PAPER, 17, SOURCES)
    assert "\n" not in line
    obj = json.loads(line)
    assert list(obj) == ["id", *jsonl.PAPER_FIELDS, "sources"]
    assert obj["id"] == 17
    assert obj["published_on"] == "2024-01-10"
    assert obj["authors"] == ["Adébáyọ̀ Ọlárewájú", "Aroha Ngata"]
    assert "Ọlárewájú" in line  # readable, not \u-escaped
    assert obj["sources"][0]["first_seen"] == "2024-01-10T20:00:01.250000+00:00"
    assert list(obj["sources"][0]) == [
        "source",
        "external_key",
        "first_seen",
        "last_seen",
        "upvotes",
        "raw",
    ]


def test_export_line_reads_back_as_one_record_per_sighting() -> None:
    records = list(jsonl.parse(jsonl.dump_paper(PAPER, 17, SOURCES).encode(), "e.jsonl"))
    assert [(r.source, r.external_key, r.paper.upvotes) for r in records] == [
        ("arxiv", "2401.05566", 0),
        ("hf_daily", "2401.05566", 42),
    ]
    assert [r.position for r in records] == [
        "e.jsonl: line 1 (source 1)",
        "e.jsonl: line 1 (source 2)",
    ]
    assert records[0].raw == SOURCES[0]["raw"]
    assert records[0].first_seen == SOURCES[0]["first_seen"]
    assert records[1].last_seen == datetime(2024, 1, 11, 6, 30, tzinfo=UTC)
    for record in records:
        assert record.paper == Paper(**{**PAPER.__dict__, "upvotes": record.paper.upvotes})
    # Merging the sightings, as the catalogue does, rebuilds the exported paper.
    assert reduce(merge, (r.paper for r in records)) == PAPER


def test_line_separators_inside_strings_do_not_split_lines(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(jsonl.dump_paper(PAPER, 1, SOURCES) + "\n", encoding="utf-8")
    records = list(jsonl.read(path))
    assert len(records) == 2
    assert records[0].paper.abstract == PAPER.abstract


def test_recorded_export_file() -> None:
    items = list(jsonl.read(EXPORT))
    assert all(isinstance(item, Record) for item in items)
    assert [(i.source, i.position.removeprefix(str(EXPORT))) for i in items] == [
        ("arxiv", ": line 1 (source 1)"),
        ("hf_daily", ": line 1 (source 2)"),
        ("listing", ": line 2 (source 1)"),
        ("bibtex", ": line 4 (source 1)"),  # line 3 is blank
    ]
    listing = items[2]
    assert listing.paper.arxiv_id is None
    assert listing.paper.identity == "title:mixture of tiny experts"
    assert listing.paper.author_count == 7 and listing.paper.authors == ()
    assert listing.raw["text"] == "Mixture of Tiny Experts\n7 authors · 17 upvotes"
    assert items[3].paper.arxiv_id == "hep-th/9901001"
    # An exported paper is already valid: central validation changes nothing.
    assert [i.paper for i in checked(items)] == [i.paper for i in items]


def test_reexporting_an_import_reproduces_the_file_byte_for_byte() -> None:
    lines = [line for line in EXPORT.read_text(encoding="utf-8").split("\n") if line.strip()]
    records = list(jsonl.read(EXPORT))
    by_id: dict[int, list[Record]] = {}
    for record, paper_id in zip(records, (1, 1, 2, 5), strict=True):
        by_id.setdefault(paper_id, []).append(record)
    for line, (paper_id, sightings) in zip(lines, by_id.items(), strict=True):
        merged = reduce(merge, (r.paper for r in sightings))
        sources = [jsonl.record_source(r) for r in sightings]
        assert jsonl.dump_paper(merged, paper_id, sources) == line


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
optional_texts = st.none() | texts.filter(bool)
dates = st.none() | st.dates(min_value=date(1, 1, 1))
moments = st.none() | st.datetimes(
    timezones=st.none()
    | st.just(UTC)
    | st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23)))
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
papers = st.builds(
    Paper,
    title=texts,
    abstract=texts,
    arxiv_id=optional_texts,
    doi=optional_texts,
    authors=st.tuples(*[texts] * 2) | st.lists(texts, max_size=4).map(tuple),
    author_count=st.none() | st.integers(min_value=0, max_value=10_000),
    organization=optional_texts,
    published_on=dates,
    published_precision=st.sampled_from(["year", "month", "day"]),
    listed_on=dates,
    github_url=optional_texts,
    upvotes=st.integers(min_value=0),
    categories=st.lists(texts, max_size=3).map(tuple),
)
sightings = st.fixed_dictionaries(
    {
        "source": texts.filter(bool),
        "external_key": texts.filter(bool),
        "first_seen": moments,
        "last_seen": moments,
        "upvotes": st.integers(min_value=0),
        "raw": st.dictionaries(texts, json_values, max_size=4),
    }
)


@given(
    papers,
    st.integers(min_value=1, max_value=2**63 - 1),
    st.lists(sightings, min_size=1, max_size=4),
)
def test_any_paper_round_trips(paper: Paper, paper_id: int, sources: list[dict]) -> None:
    line = jsonl.dump_paper(paper, paper_id, sources)
    records = list(jsonl.parse(line.encode("utf-8") + b"\n", "p"))
    assert len(records) == len(sources)
    for record, source in zip(records, sources, strict=True):
        assert isinstance(record, Record)
        assert record.paper == Paper(**{**paper.__dict__, "upvotes": source["upvotes"]})
        assert (record.source, record.external_key) == (source["source"], source["external_key"])
        assert (record.first_seen, record.last_seen) == (source["first_seen"], source["last_seen"])
        assert record.raw == source["raw"]


# ---------------------------------------------------------------- plain lines


def test_plain_line_is_one_record_keyed_by_identity() -> None:
    (record,) = read_text(
        '{"title": "Attention Is All You Need", "arxiv_id": "1706.03762v5", "upvotes": 3}'
    )
    assert (record.source, record.external_key) == ("jsonl", "arxiv:1706.03762")
    assert record.paper.upvotes == 3
    assert record.raw == {
        "title": "Attention Is All You Need",
        "arxiv_id": "1706.03762v5",
        "upvotes": 3,
    }
    (untitled,) = read_text('{"title": "A Paper Without Ids!"}')
    assert untitled.external_key == "title:a paper without ids"


def test_plain_line_accepts_common_foreign_names() -> None:
    # The shape of the arXiv metadata snapshot (one JSON object per paper).
    line = {
        "id": "0704.0001",
        "title": "Calculation of prompt diphoton production",
        "summary": "A fully differential calculation.",
        "authors": "C. Balázs, E. L. Berger, P. M. Nadolsky and C.-P. Yuan",
        "categories": "hep-ph hep-ex",
        "published": "2007-04-02T19:18:42Z",
    }
    (record,) = read_text(json.dumps(line))
    paper = record.paper
    assert paper.arxiv_id == "0704.0001"
    assert paper.abstract == "A fully differential calculation."
    assert paper.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan")
    assert paper.categories == ("hep-ph", "hep-ex")
    assert paper.published_on == date(2007, 4, 2)


def test_plain_line_authors_as_objects_and_empty_sources() -> None:
    (record,) = read_text('{"title": "T", "authors": [{"name": "Ann"}, "Bob"], "sources": []}')
    assert record.source == "jsonl"
    assert record.paper.authors == ("Ann", "Bob")


# ---------------------------------------------------------------- bad lines


def test_bad_lines_are_reported_and_the_rest_imported() -> None:
    good = jsonl.dump_paper(PAPER, 1, SOURCES[:1])
    data = b"\n".join(
        [
            good.encode(),
            b"{not json",
            b"[1, 2]",
            b'{"title": "Caf\xe9"}',
            b'{"title": "Leap", "published_on": "2023-02-29"}',
            b"",
            good.replace('"id": 1', '"id": 1 ').encode(),  # the same paper id again
            b'{"title": "Plain"}',
            b'{"title": "plain!"}',  # the same identity again
        ]
    )
    items = list(jsonl.parse(data, "f"))
    assert [(type(i).__name__, i.position) for i in items] == [
        ("Record", "f: line 1 (source 1)"),
        ("BadRecord", "f: line 2"),
        ("BadRecord", "f: line 3"),
        ("BadRecord", "f: line 4"),
        ("BadRecord", "f: line 5"),
        ("BadRecord", "f: line 7"),
        ("Record", "f: line 8"),
        ("BadRecord", "f: line 9"),
    ]
    reasons = [i.reason for i in items if isinstance(i, BadRecord)]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "expected a JSON object, got list"
    assert reasons[2] == "invalid UTF-8 at byte 14"
    assert reasons[3] == "bad published_on date '2023-02-29'"
    assert reasons[4] == "duplicate paper id 1 (first on line 1)"
    assert reasons[5] == "duplicate paper 'title:plain' (first on line 8)"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": "17"}, "id is not an integer: '17'"),
        ({"title": 5}, "title is not a string: int"),
        ({"authors": "A, B"}, "authors is not a list"),
        ({"authors": ["A", 2]}, "an author is not a string: 2"),
        ({"categories": "cs.CL"}, "categories is not a list of strings"),
        ({"upvotes": True}, "upvotes is not an integer: True"),
        ({"listed_on": "yesterday"}, "bad listed_on date 'yesterday'"),
        ({"sources": "arxiv"}, "sources is not a list"),
    ],
)
def test_wrongly_typed_export_fields(change: dict, reason: str) -> None:
    obj = json.loads(jsonl.dump_paper(PAPER, 17, SOURCES))
    obj.update(change)
    (item,) = read_text(json.dumps(obj))
    assert isinstance(item, BadRecord)
    assert item.reason == reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"source": ""}, "source and external_key must be non-empty strings"),
        ({"external_key": 5}, "source and external_key must be non-empty strings"),
        ({"raw": [1]}, "raw is not an object"),
        ({"first_seen": "noon"}, "bad first_seen timestamp 'noon'"),
        ({"upvotes": -1.5}, "upvotes is not an integer: -1.5"),
    ],
)
def test_one_bad_sighting_rejects_the_whole_line(change: dict, reason: str) -> None:
    obj = json.loads(jsonl.dump_paper(PAPER, 17, SOURCES))
    obj["sources"][1].update(change)
    (item,) = read_text(json.dumps(obj))  # no half-imported paper
    assert isinstance(item, BadRecord)
    assert item.reason == f"source 2: {reason}"


def test_absurd_nesting_is_a_bad_line_not_a_crash() -> None:
    items = read_text("[" * 100_000 + "\n" + '{"title": "After"}')
    assert [type(i) for i in items] == [BadRecord, Record]


def test_byte_order_mark_and_crlf_line_ends() -> None:
    items = list(jsonl.parse(b'\xef\xbb\xbf{"title": "One"}\r\n{"title": "Two"}\r\n', "f"))
    assert [i.paper.title for i in items] == ["One", "Two"]


def test_ten_thousand_exported_papers_parse_to_all_their_sightings() -> None:
    """Correctness of a large export; its speed is measured by benchmarks/parse_speed.py."""
    lines = [
        jsonl.dump_paper(Paper(**{**PAPER.__dict__, "arxiv_id": f"2401.{n:05d}"}), n, SOURCES)
        for n in range(1, 10_001)
    ]
    items = list(jsonl.parse("\n".join(lines).encode(), "big"))
    assert len(items) == 20_000
    assert all(isinstance(item, Record) for item in items)
    assert {item.paper.arxiv_id for item in items} == {f"2401.{n:05d}" for n in range(1, 10_001)}
