"""Issue 13, defect 12: a record PostgreSQL would refuse is a reported bad record, not the end.

Each case is a JSONL file with good lines around one line holding a value the database
cannot store; the import must land every good line and report the bad one by position.
"""

from __future__ import annotations

import json

import pytest

from paperfeed import catalogue
from paperfeed.db import Database
from paperfeed.model import InvalidPaper, Paper, validate
from paperfeed.sources import jsonl

POISONS = {
    "upvotes beyond integer": ('{"title": "P", "upvotes": 3000000000}', "upvote count"),
    "author count beyond integer": ('{"title": "P", "author_count": 99999999999}', "author count"),
    "NUL in raw": ('{"title": "P", "note": "a\\u0000b"}', "NUL"),
    "NUL in doi": ('{"title": "P", "doi": "10.1/a\\u0000"}', "doi"),
    "lone surrogate in raw": ('{"title": "P", "note": "\\ud800"}', "surrogate"),
    "lone surrogate in category": ('{"title": "P", "categories": ["cs\\udfff"]}', "category"),
    "NaN in raw": ('{"title": "P", "score": NaN}', "raw record"),
    "Infinity in raw": ('{"title": "P", "score": -Infinity}', "raw record"),
    "over-long organisation": (
        json.dumps({"title": "P", "organization": "o" * 600}),
        "organization",
    ),
    "over-long doi": (json.dumps({"title": "P", "doi": "10.1/" + "d" * 600}), "doi"),
    "over-long category": (json.dumps({"title": "P", "categories": ["c" * 200]}), "category"),
    "over-long author": (json.dumps({"title": "P", "authors": ["a" * 600]}), "author name"),
}


@pytest.mark.parametrize("case", sorted(POISONS))
def test_one_refused_line_costs_only_itself(db: Database, case: str) -> None:
    poison, reason = POISONS[case]
    lines = [json.dumps({"title": f"Good paper {n}", "upvotes": n}) for n in range(6)]
    lines.insert(3, poison)
    data = ("\n".join(lines) + "\n").encode()
    report = catalogue.ingest(db, jsonl.parse(data, "f.jsonl"), source="jsonl", origin="f")
    assert (report.read, report.new, report.rejected) == (7, 6, 1)
    assert report.errors[0].position == "f.jsonl: line 4"
    assert reason in report.errors[0].reason
    assert catalogue.count_papers(db) == 6


def test_the_issue_example_lands_the_good_record(db: Database) -> None:
    data = b'{"title":"a"}\n{"title":"b","upvotes":3000000000}\n'
    report = catalogue.ingest(db, jsonl.parse(data, "f.jsonl"), source="jsonl", origin="f")
    assert (report.new, report.rejected) == (1, 1)
    with db.connection() as conn:
        run = conn.execute("SELECT status, errors FROM ingest_runs").fetchone()
    assert run["status"] == "finished" and run["errors"][0]["position"] == "f.jsonl: line 2"


def test_a_bad_line_deep_in_a_big_file_does_not_stop_the_import_there(db: Database) -> None:
    lines = [json.dumps({"title": f"Paper number {n}"}) for n in range(5_000)]
    lines[2_501] = '{"title": "x", "upvotes": 3000000000}'
    data = "\n".join(lines).encode()
    report = catalogue.ingest(
        db, jsonl.parse(data, "big.jsonl"), source="jsonl", origin="big", batch_size=500
    )
    assert (report.new, report.rejected) == (4_999, 1)


def test_positions_and_reasons_with_nul_or_surrogates_are_recorded_escaped(db: Database) -> None:
    data = b'{"title": "ok"}\n{"title": "P", "doi": "\\ud800"}\n'
    report = catalogue.ingest(
        db, jsonl.parse(data, "s\udcff.jsonl"), source="jsonl", origin="o\x00"
    )
    assert report.rejected == 1
    with db.connection() as conn:
        run = conn.execute("SELECT origin, errors FROM ingest_runs").fetchone()
    assert run["origin"] == "o\\x00"
    assert "\\udcff" in run["errors"][0]["position"]


@pytest.mark.parametrize("value", [True, 1.5, "3", -1])
def test_counts_must_be_whole_non_negative_numbers(value: object) -> None:
    with pytest.raises(InvalidPaper):
        validate(Paper(title="T", upvotes=value))  # type: ignore[arg-type]
