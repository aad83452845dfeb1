"""Issue 13's import speed: every fast path reads exactly what the general path read.

The Kaggle/JSONL readers decode lines with orjson and hand the line itself over as
the raw record to store (`jsonfields.load_line`); arXiv's `created` dates are read
without email.utils; ASCII text is checked with str.isprintable. Each is compared
here with the general path on real snapshot lines and on the inputs where the two
could differ (huge integers, NaN, lone surrogates, impossible dates and times).
"""

from __future__ import annotations

import json
from datetime import UTC
from email.utils import parsedate_to_datetime

import pytest

from paperfeed import catalogue
from paperfeed.db import Database
from paperfeed.model import InvalidPaper, Paper, clean_text, validate
from paperfeed.sources import jsonl, kaggle
from paperfeed.sources.jsonfields import load_line
from paperfeed.sources.text import _ET_AL, is_et_al
from tests.sources.realdata import files, split

SNAPSHOT = files("kaggle", "*.json")[0]


def test_real_snapshot_lines_decode_as_json_does_and_are_stored_as_written() -> None:
    lines = [line for line in SNAPSHOT.read_bytes().split(b"\n") if line.strip()]
    for line in lines:
        value, stored = load_line(line)
        assert value == json.loads(line)
        assert stored is not None and json.loads(stored) == value


@pytest.mark.parametrize(
    "line",
    [
        b'{"a": 123456789012345678901234567890}',  # orjson would read a float
        b'{"a": -9999999999999999999}',
        b'{"a": NaN}',
        b'{"a": "\\ud800"}',
        b'{"a": 1e400}',
    ],
)
def test_lines_orjson_reads_differently_or_refuses_go_through_json(line: bytes) -> None:
    value, stored = load_line(line)
    assert stored is None
    assert repr(value) == repr(json.loads(line))


def test_a_huge_integer_in_a_raw_record_is_stored_whole(db: Database) -> None:
    data = b'{"title": "Huge numbers", "note": 123456789012345678901234567890}\n'
    report = catalogue.ingest(db, jsonl.parse(data, "f.jsonl"), source="jsonl", origin="f")
    assert report.new == 1
    with db.connection() as conn:
        raw = conn.execute("SELECT raw::text AS raw FROM paper_sources").fetchone()["raw"]
    assert "123456789012345678901234567890" in raw


def test_a_stored_line_with_an_escaped_nul_is_still_a_bad_record(db: Database) -> None:
    lines = [json.loads(line) for line in SNAPSHOT.read_bytes().split(b"\n")[:3] if line]
    lines[1]["comments"] = "a\x00b"
    data = "\n".join(json.dumps(line) for line in lines).encode()
    report = catalogue.ingest(db, kaggle.parse(data, "k.json"), source="kaggle", origin="k")
    assert (report.new, report.rejected) == (2, 1)
    assert "NUL" in report.errors[0].reason


@pytest.mark.parametrize(
    "created",
    [
        "Mon, 2 Apr 2007 19:18:42 GMT",
        "Tue, 31 Dec 2024 23:59:59 GMT",
        "2 Apr 2007 19:18:42 GMT",
        "Mon, 29 Feb 2016 00:00:00 GMT",
        "Mon, 2 Apr 2007 19:18:42 -0000",
        "Mon, 2 Apr 2007 23:18:42 -0500",
    ],
)
def test_created_dates_read_as_email_utils_reads_them(created: str) -> None:
    moment = parsedate_to_datetime(created)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    assert kaggle.first_version_day([{"created": created}]) == moment.astimezone(UTC).date()


@pytest.mark.parametrize(
    "created",
    [
        "Fri, 30 Feb 2007 10:00:00 GMT",
        "Mon, 2 Apr 2007 25:18:42 GMT",
        "Mon, 2 Apr 2007 19:61:00 GMT",
    ],
)
def test_impossible_created_dates_and_times_are_still_refused(created: str) -> None:
    with pytest.raises(ValueError, match="versions"):
        kaggle.first_version_day([{"created": created}])


@pytest.mark.parametrize("char", [chr(c) for c in (*range(32), 127)])
def test_every_ascii_control_character_is_cleaned_or_refused(char: str) -> None:
    assert char not in clean_text(f"a{char}b")
    with pytest.raises(InvalidPaper, match="control characters"):
        validate(Paper(title="Title", doi=f"10.1/a{char}b"))


def test_authors_parsed_names_match_the_general_rule() -> None:
    good, bad = split(kaggle.read(SNAPSHOT))
    assert bad == []
    checked = 0
    for record in good:
        names = [kaggle._name(entry) for entry in record.raw["authors_parsed"]]  # noqa: SLF001
        expected = [clean_text(n) for n in names if n.strip() and not is_et_al(n)]
        assert list(record.paper.authors) == expected
        checked += len(expected)
    assert checked > 500


@pytest.mark.parametrize(
    "name",
    ["et al.", "Et Al", "et. al.", " et  al ", "OTHERS", "other\u017f", "Alice", "Al", "et al. x"],
)
def test_et_al_shortcut_agrees_with_its_pattern(name: str) -> None:
    # The substring test in front of the pattern must never change its answer,
    # including for the long s (U+017F), which IGNORECASE matches as "s".
    assert is_et_al(name) == (_ET_AL.fullmatch(name.strip()) is not None)
    entry = {"authors_parsed": [["", name, ""], ["Lovelace", "Ada"]]}
    assert kaggle.authors(entry) == [n for n in (name.strip(), "Ada Lovelace") if not is_et_al(n)]
