"""Every parser, on any bytes: records or reported bad records, never an exception (issue 13)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.model import BadRecord, Item, Record, checked
from paperfeed.sources import (
    bibtex,
    csl_json,
    detect,
    hf_daily,
    jsonl,
    kaggle,
    listing,
    openalex,
    ris,
    semantic_scholar,
)
from paperfeed.sources.arxiv import atom, oai

logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

PARSERS: dict[str, Callable[[bytes], Iterable[Item]]] = {
    "bibtex": lambda data: bibtex.parse(data, "f.bib"),
    "hf_daily": lambda data: hf_daily.parse(data, "f.json"),
    "jsonl": lambda data: jsonl.parse(data, "f.jsonl"),
    "kaggle": lambda data: kaggle.parse(data, "f.json"),
    "listing": lambda data: listing.parse(data, "f.txt", 2025),
    "atom": lambda data: atom.parse_atom(data, "f.xml").items,
    "oai": lambda data: oai.parse_oai(data, "f.xml").items,
    "csl_json": lambda data: csl_json.parse(data, "f.json"),
    "ris": lambda data: ris.parse(data, "f.ris"),
    "openalex": lambda data: openalex.parse(data, "f.json"),
    "semantic_scholar": lambda data: semantic_scholar.parse(data, "f.json"),
}

# Near-misses are where parsers break: fragments of each format, shuffled and damaged.
FRAGMENTS = [
    b"@article{k,",
    b"title = {",
    b"year = {",
    b"\xc2\xb2\xe2\x81\xb0",
    b"\xe2\x91\xa0",
    b"}",
    b"crossref = {k}",
    b"author = {A and et al.}",
    b"doi = {10.1\\_2}",
    b'{"id": "2401.00001", "versions": [{"created": ',
    b'"authors_parsed": [[',
    b"]]}",
    b'[{"paper": {"id": "2401.00001", "title": "T", "upvotes": ',
    b"3000000000",
    b"NaN",
    b'"\\u0000"',
    b'"\\ud800"',
    b"}}]",
    b"\n",
    b"Daily Papers\n\nDec 11\n\n",
    b"\xe2\x80\xa2 " + b"9" * 5000 + b" authors\n\xc2\xb7\nSep 27, 2023\n",
    b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><id>http://arxiv.org/abs/2401.00001",
    b"<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'><error code='noRecordsMatch'>",
    b"</entry></feed>",
    b"\x00",
    b"\xff\xfe",
    b"TY  - JOUR\n",
    b"TI  - T\n",
    b"PY  - 2020/02/30/\n",
    b"ER  -\n",
    b'{"results": [{"id": "https://openalex.org/W1", "abstract_inverted_index": {"a": [',
    b'{"data": [{"paperId": "x", "publicationDate": "',
    b'"issued": {"date-parts": [[',
    b"[null, ",
    b"99999",
    b"-1",
    b"1e400",
]
near_misses = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=20), max_size=30).map(
    b"".join
)
inputs = st.binary(max_size=3000) | near_misses


def _check(name: str, data: bytes) -> None:
    items = list(checked(PARSERS[name](data)))
    assert all(isinstance(item, (Record, BadRecord)) for item in items)
    for item in items:
        if isinstance(item, Record):  # what was accepted can be stored
            json.dumps(item.raw, allow_nan=False, default=str)


def _property(name: str):
    @given(inputs)
    @settings(max_examples=150, deadline=None)
    def test(data: bytes) -> None:
        _check(name, data)

    test.__name__ = f"test_{name}_never_raises_on_any_bytes"
    return test


for _name in PARSERS:
    globals()[f"test_{_name}_never_raises_on_any_bytes"] = _property(_name)


@given(inputs)
@settings(max_examples=150, deadline=None)
def test_detection_never_raises(data: bytes) -> None:
    assert detect.detect(data) is None or isinstance(detect.detect(data), str)


def test_huge_author_count_is_a_bad_record_not_a_crash() -> None:
    page = (
        "Daily Papers\n\nbyAK and the research community\n\nDec 11\n\nA Title\n\n"
        + "An abstract that is long enough to be one. " * 5
        + "\n\n• "
        + "9" * 5000
        + " authors\n·\nSep 27, 2023\n"
    )
    items = list(checked(listing.parse(page.encode(), "p.txt", 2025)))
    assert [type(i).__name__ for i in items] == ["BadRecord"]
    assert "author count of 5000 digits" in items[0].reason
