"""Issue 13 E: deleting papers and undoing an import run, in one transaction."""

from __future__ import annotations

import pytest

from paperfeed import catalogue
from paperfeed.app import Paperfeed
from paperfeed.db import Database
from paperfeed.sources import bibtex, hf_daily
from tests.sources.realdata import REALDATA

HF = REALDATA / "hf_daily" / "hfnews_zh_2025-07-15.json"  # 10 papers, 2507.10541 among them
BIB = REALDATA / "bibtex_in_readme" / "opendatalab_REST_README_citation_lines144-152.bib"


def _two_runs(db: Database) -> tuple[int, int]:
    first = catalogue.ingest(
        db, hf_daily.parse(HF.read_bytes(), HF.name), source="hf_daily", origin="hf"
    )
    second = catalogue.ingest(db, bibtex.read(BIB), source="bibtex", origin="bib")
    assert (first.new, second.merged) == (10, 1)
    return first.run_id, second.run_id


def _counts(db: Database) -> tuple[int, int]:
    with db.connection() as conn:
        papers = conn.execute("SELECT count(*) AS n FROM papers").fetchone()["n"]
        sightings = conn.execute("SELECT count(*) AS n FROM paper_sources").fetchone()["n"]
    return papers, sightings


def test_undo_of_a_merging_run_removes_only_its_sightings(db: Database) -> None:
    first, second = _two_runs(db)
    removal = catalogue.undo_run(db, second)
    assert (removal.papers, removal.sightings) == (0, 1)
    assert _counts(db) == (10, 10)
    removal = catalogue.undo_run(db, first)
    assert (removal.papers, removal.sightings) == (10, 10)
    assert _counts(db) == (0, 0)
    with db.connection() as conn:
        runs = conn.execute("SELECT status, message FROM ingest_runs ORDER BY id").fetchall()
    assert [r["status"] for r in runs] == ["undone", "undone"]
    assert runs[0]["message"] == "undone: removed 10 papers and 10 sightings"


def test_a_paper_another_run_has_seen_survives_the_undo_of_its_creator(db: Database) -> None:
    first, second = _two_runs(db)
    removal = catalogue.undo_run(db, first)
    assert (removal.papers, removal.sightings) == (9, 10)  # REST stays: the .bib saw it too
    with db.connection() as conn:
        row = conn.execute("SELECT arxiv_id FROM papers").fetchone()
    assert row["arxiv_id"] == "2507.10541" and _counts(db) == (1, 1)
    removal = catalogue.undo_run(db, second)  # now nothing else describes it
    assert (removal.papers, removal.sightings) == (1, 1) and _counts(db) == (0, 0)


def test_papers_users_voted_for_or_saved_are_kept_unless_asked(
    pf: Paperfeed, db: Database, user_id: int
) -> None:
    first, _ = _two_runs(db)
    with db.transaction() as conn:
        voted = conn.execute("SELECT id FROM papers WHERE arxiv_id = '2507.10548'").fetchone()["id"]
        conn.execute("INSERT INTO votes (user_id, paper_id) VALUES (%s, %s)", (user_id, voted))
        saved = conn.execute("SELECT id FROM papers WHERE arxiv_id = '2507.09862'").fetchone()["id"]
        conn.execute(
            "INSERT INTO library_items (user_id, paper_id) VALUES (%s, %s)", (user_id, saved)
        )
    removal = catalogue.delete_papers(db, [voted, saved])
    assert removal.papers == 0 and removal.kept == sorted([voted, saved])
    removal = catalogue.undo_run(db, first)
    assert sorted(removal.kept) == sorted([voted, saved]) and removal.papers == 7
    removal = catalogue.delete_papers(db, [voted, saved, 999_999], including_used=True)
    assert (removal.papers, removal.votes, removal.saved) == (2, 1, 1)
    assert removal.missing == [999_999]
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM votes").fetchone()["n"] == 0


def test_a_run_cannot_be_undone_twice_or_while_unknown(db: Database) -> None:
    first, _ = _two_runs(db)
    catalogue.undo_run(db, first)
    with pytest.raises(catalogue.CannotUndo, match="undone already"):
        catalogue.undo_run(db, first)
    with pytest.raises(catalogue.CannotUndo, match="no import run"):
        catalogue.undo_run(db, 12345)


# A .bib that merges new fields into three of the HF file's papers: a DOI, a category,
# a longer title-case author list would not merge (HF's authors win), so DOI and
# categories are the fields the undo must take back.
MERGING_BIB = b"""
@article{embrace, title = {EmbRACE-3K}, eprint = {2507.10548}, archivePrefix = {arXiv},
  primaryClass = {cs.CV}, doi = {10.1234/embrace}, year = {2025}}
@article{speakervid, title = {SpeakerVid-5M}, eprint = {2507.09862}, archivePrefix = {arXiv},
  primaryClass = {cs.MM}, doi = {10.1234/speakervid}, year = {2025}}
@misc{rest, title = {REST}, eprint = {2507.10541}, primaryClass = {cs.CL}, year = {2025}}
"""


def _papers(db: Database) -> list[dict]:
    """Every papers row, every column, as PostgreSQL renders it (updated_at included)."""
    with db.connection() as conn:
        return [
            r["row"]
            for r in conn.execute("SELECT to_jsonb(p)::text AS row FROM papers p ORDER BY id")
        ]


def test_undo_puts_back_the_fields_a_run_merged_into_papers_that_stay(db: Database) -> None:
    catalogue.ingest(db, hf_daily.parse(HF.read_bytes(), HF.name), source="hf_daily", origin="hf")
    before = _papers(db)
    merged = catalogue.ingest(db, bibtex.parse(MERGING_BIB, "m.bib"), source="bibtex", origin="m")
    assert merged.merged == 3
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT arxiv_id, doi, categories FROM papers WHERE doi IS NOT NULL ORDER BY arxiv_id"
        ).fetchall()
    assert [r["doi"] for r in rows] == ["10.1234/speakervid", "10.1234/embrace"]
    assert _papers(db) != before
    removal = catalogue.undo_run(db, merged.run_id)
    assert (removal.restored, removal.unrestored, removal.papers) == (3, [], 0)
    assert _papers(db) == before  # byte for byte, updated_at too
    with db.connection() as conn:
        message = conn.execute(
            "SELECT message FROM ingest_runs WHERE id = %s", (merged.run_id,)
        ).fetchone()["message"]
        left = conn.execute("SELECT count(*) AS n FROM paper_revisions").fetchone()["n"]
    assert message.endswith("restored the fields of 3 papers") and left == 0


def test_a_paper_changed_after_the_run_keeps_its_fields_and_is_reported(db: Database) -> None:
    catalogue.ingest(db, hf_daily.parse(HF.read_bytes(), HF.name), source="hf_daily", origin="hf")
    merged = catalogue.ingest(db, bibtex.parse(MERGING_BIB, "m.bib"), source="bibtex", origin="m")
    with db.transaction() as conn:
        edited = conn.execute(
            "UPDATE papers SET title = 'EmbRACE-3K (edited)' WHERE arxiv_id = '2507.10548'"
            " RETURNING id"
        ).fetchone()["id"]
    # A later run that merges into another of them (its revision replaces this run's).
    later = b"@misc{again, title = {X}, eprint = {2507.09862}, note = {arXiv:2507.09862}}"
    catalogue.ingest(db, bibtex.parse(later, "l.bib"), source="bibtex", origin="l")
    removal = catalogue.undo_run(db, merged.run_id)
    with db.connection() as conn:
        seen = conn.execute("SELECT id FROM papers WHERE arxiv_id = '2507.09862'").fetchone()["id"]
    # REST is put back; the edited paper and the one a later run saw keep their fields.
    assert (removal.restored, removal.unrestored) == (1, sorted([edited, seen]))
    with db.connection() as conn:
        row = conn.execute("SELECT title, doi FROM papers WHERE id = %s", (edited,)).fetchone()
    assert (row["title"], row["doi"]) == ("EmbRACE-3K (edited)", "10.1234/embrace")
