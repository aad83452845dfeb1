"""Issue 13: in every format, a file with one database-refused record still lands every other.

Hypothesis writes a file in each parser's format: a few valid records with generated
titles, and at a generated position one record holding a value PostgreSQL cannot
store — an integer beyond its column, a NUL, a lone surrogate, NaN or an over-long
field, each where the format can carry it (XML cannot hold a NUL, BibTeX has no
numbers: those formats get the poisons they can hold). The file is imported through
the real database. Every valid record must land as its own paper; the poisoned one
is either a reported bad record or, where the parser cleans the value away, a paper.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from xml.sax.saxutils import escape

import pytest
from benchmarks.synthetic import listing_page
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperfeed import catalogue
from paperfeed.db import Database
from tests.sources.test_properties import PARSERS

BIG = 3_000_000_000  # beyond PostgreSQL's integer
LONG = "10.1/" + "d" * 600  # beyond any text column paperfeed bounds
# A JSON value per poison, for the JSON formats (Python's json reads NaN and lone
# surrogate escapes, as real exports sometimes hold them).
JSON_POISON = {
    "bigint": BIG,
    "nul": "a\x00b",
    "surrogate": "\ud800",
    "nan": float("nan"),
    "long": LONG,
}
ALL = sorted(JSON_POISON)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=True)  # NaN stays NaN, "\ud800" stays escaped


def _arxiv(n: int) -> str:
    return f"2401.{n:05d}"


Spec = tuple[int, str, str | None]  # (unique number, title, poison kind or None)


def _jsonl(records: list[Spec]) -> bytes:
    lines = []
    for _, title, poison in records:
        line: dict = {"title": title}
        if poison == "bigint":
            line["upvotes"] = BIG
        elif poison in ("nul", "long"):
            line["doi"] = JSON_POISON[poison]
        elif poison:
            line["note"] = JSON_POISON[poison]
        lines.append(_dumps(line))
    return ("\n".join(lines) + "\n").encode()


def _hf_daily(records: list[Spec]) -> bytes:
    entries = []
    for n, title, poison in records:
        paper: dict = {"id": _arxiv(n), "title": title, "upvotes": 1, "authors": []}
        if poison == "bigint":
            paper["upvotes"] = BIG
        elif poison == "nan":
            paper["upvotes"] = float("nan")
        elif poison:
            paper["authors"] = [{"name": JSON_POISON[poison]}]
        stamp = "2024-01-10T12:00:00.000Z"
        entries.append({"paper": {**paper, "publishedAt": stamp}, "publishedAt": stamp})
    return _dumps(entries).encode()


def _kaggle(records: list[Spec]) -> bytes:
    lines = []
    for n, title, poison in records:
        line: dict = {
            "id": _arxiv(n),
            "authors": "A. Author",
            "title": title,
            "abstract": "An abstract.",
            "categories": "cs.LG",
            "doi": None,
            "versions": [{"version": "v1", "created": "Wed, 10 Jan 2024 12:00:00 GMT"}],
            "update_date": "2024-01-11",
            "authors_parsed": [["Author", "A.", ""]],
        }
        if poison in ("nul", "long", "surrogate"):
            line["doi"] = JSON_POISON[poison]
        elif poison:
            line["license"] = JSON_POISON[poison]  # kept in the raw record only
        lines.append(_dumps(line))
    return ("\n".join(lines) + "\n").encode()


def _csl_json(records: list[Spec]) -> bytes:
    items = []
    for n, title, poison in records:
        item: dict = {"id": f"k{n}", "type": "article-journal", "title": title}
        if poison in ("nul", "long", "surrogate"):
            item["DOI"] = JSON_POISON[poison]
        elif poison:
            item["page"] = JSON_POISON[poison]
        items.append(item)
    return _dumps(items).encode()


def _openalex(records: list[Spec]) -> bytes:
    works = []
    for n, title, poison in records:
        work: dict = {"id": f"https://openalex.org/W{n}", "title": title, "display_name": title}
        if poison in ("nul", "long", "surrogate"):
            work["doi"] = JSON_POISON[poison]
        elif poison:
            work["cited_by_count"] = JSON_POISON[poison]
        works.append(work)
    return _dumps({"results": works}).encode()


def _semantic_scholar(records: list[Spec]) -> bytes:
    papers = []
    for n, title, poison in records:
        paper: dict = {"paperId": f"p{n}", "title": title}
        if poison in ("nul", "long", "surrogate"):
            paper["externalIds"] = {"DOI": JSON_POISON[poison]}
        elif poison:
            paper["citationCount"] = JSON_POISON[poison]
        papers.append(paper)
    return _dumps({"data": papers}).encode()


# Text formats: a NUL byte, the UTF-8 encoding of a surrogate (invalid UTF-8) or an
# over-long DOI; they have no numbers the database could refuse.
TEXT_POISON = {"nul": b"a\x00b", "surrogate": b"\xed\xa0\x80", "long": LONG.encode()}


def _bibtex(records: list[Spec]) -> bytes:
    out = b""
    for n, title, poison in records:
        extra = b""
        if poison == "long":
            extra = b", doi = {" + TEXT_POISON["long"] + b"}"
        elif poison:
            extra = b", note = {" + TEXT_POISON[poison] + b"}"
        out += b"@article{k%d, title = {%s}%s}\n" % (n, title.encode(), extra)
    return out


def _ris(records: list[Spec]) -> bytes:
    out = b""
    for _, title, poison in records:
        out += b"TY  - JOUR\nTI  - " + title.encode() + b"\n"
        if poison == "long":
            out += b"DO  - " + TEXT_POISON["long"] + b"\n"
        elif poison:
            out += b"N1  - " + TEXT_POISON[poison] + b"\n"
        out += b"ER  - \n"
    return out


def _listing(records: list[Spec]) -> bytes:
    papers = [
        {
            "title": title,
            # A listing tells a card's abstract from its title by length (twice as long).
            "abstract": " ".join(
                ["We study what happens to a paper imported next to a bad one."] * 8
            ),
            "author_count": 3,
            "organization": ("org", "o" * 600) if poison == "long" else None,
            "published_on": date(2025, 12, 1),
            "upvotes": BIG if poison == "bigint" else 1,
        }
        for _, title, poison in records
    ]
    return listing_page(papers).encode()


def _atom(records: list[Spec]) -> bytes:
    entries = ""
    for n, title, poison in records:
        doi = f"<arxiv:doi>{LONG}</arxiv:doi>" if poison else ""
        entries += (
            f"<entry><id>http://arxiv.org/abs/{_arxiv(n)}v1</id>"
            "<published>2024-01-10T12:00:00Z</published><updated>2024-01-10T12:00:00Z</updated>"
            f"<title>{escape(title)}</title><summary>An abstract.</summary>"
            f"<author><name>A. Author</name></author>{doi}</entry>"
        )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'"
        f" xmlns:arxiv='http://arxiv.org/schemas/atom'>{entries}</feed>"
    ).encode()


def _oai(records: list[Spec]) -> bytes:
    out = ""
    for n, title, poison in records:
        doi = f"<doi>{LONG}</doi>" if poison else ""
        out += (
            f"<record><header><identifier>oai:arXiv.org:{_arxiv(n)}</identifier>"
            "<datestamp>2024-01-10</datestamp></header><metadata>"
            f"<arXiv xmlns='http://arxiv.org/OAI/arXiv/'><id>{_arxiv(n)}</id>"
            "<created>2024-01-10</created><authors><author><keyname>Author</keyname>"
            f"<forenames>A.</forenames></author></authors><title>{escape(title)}</title>"
            f"<categories>cs.LG</categories>{doi}<abstract>An abstract.</abstract></arXiv>"
            "</metadata></record>"
        )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        "<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'>"
        "<responseDate>2024-01-10T12:00:05Z</responseDate>"
        f"<ListRecords>{out}</ListRecords></OAI-PMH>"
    ).encode()


# parser (tests/sources/test_properties.py's PARSERS) → its writer and the poisons it holds
FORMATS: dict[str, tuple[Callable[[list[Spec]], bytes], list[str]]] = {
    "jsonl": (_jsonl, ALL),
    "hf_daily": (_hf_daily, ALL),
    "kaggle": (_kaggle, ALL),
    "csl_json": (_csl_json, ALL),
    "openalex": (_openalex, ALL),
    "semantic_scholar": (_semantic_scholar, ALL),
    "bibtex": (_bibtex, sorted(TEXT_POISON)),
    "ris": (_ris, sorted(TEXT_POISON)),
    "listing": (_listing, ["bigint", "long"]),
    "atom": (_atom, ["long"]),
    "oai": (_oai, ["long"]),
}


_WORDS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12
)
_NUMBERS = iter(range(1, 10**6))  # arXiv ids and keys never repeat across examples


def test_every_parser_has_a_writer() -> None:
    assert sorted(FORMATS) == sorted(PARSERS)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_one_refused_record_costs_only_itself(db: Database, name: str) -> None:
    render, poisons = FORMATS[name]
    parse = PARSERS[name]

    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        words=st.lists(st.lists(_WORDS, min_size=2, max_size=6), min_size=1, max_size=6),
        position=st.integers(min_value=0, max_value=6),
        poison=st.sampled_from(poisons),
    )
    def check(words: list[list[str]], position: int, poison: str) -> None:
        run = uuid.uuid4().hex[:12]  # titles of one example never match another's papers
        good = [f"Paper {run} {i} " + " ".join(w) for i, w in enumerate(words)]
        specs: list[Spec] = [(next(_NUMBERS), title, None) for title in good]
        specs.insert(min(position, len(specs)), (next(_NUMBERS), f"Poisoned {run}", poison))
        report = catalogue.ingest(db, parse(render(specs)), source=name, origin=run)
        with db.connection() as conn:
            landed = conn.execute(
                "SELECT count(*) AS n FROM papers WHERE title = ANY(%s)", (good,)
            ).fetchone()["n"]
        assert landed == len(good), report.errors
        assert report.read == len(specs)
        # The poisoned record is a reported bad record, or a paper once its value was cleaned.
        assert report.rejected + (report.new - len(good)) == 1, report.errors

    check()
