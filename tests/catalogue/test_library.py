"""The library: save, folders, tags, notes, "not interested", export and import."""

from __future__ import annotations

import csv
import io

import pytest

from paperfeed.catalogue import library, library_io


def test_save_is_idempotent_and_unsave_removes_from_folders(pf, corpus, user_id):
    pid = corpus.ids["graphs"][0]
    with pf.db.transaction() as conn:
        assert library.save(conn, user_id, pid) is True
        assert library.save(conn, user_id, pid) is False
        folder = library.create_folder(conn, user_id, "To read")
        library.add_to_folder(conn, user_id, folder, pid)
        assert [f["papers"] for f in library.folders(conn, user_id)] == [1]
        assert library.unsave(conn, user_id, pid) is True
        assert library.folders(conn, user_id)[0]["papers"] == 0
        assert library.count_items(conn, user_id) == 0


def test_tags_and_notes_are_kept_and_filter_the_library(pf, corpus, user_id):
    a, b = corpus.ids["graphs"][:2]
    with pf.db.transaction() as conn:
        library.save(conn, user_id, a)
        library.save(conn, user_id, b)
        assert library.set_tags(conn, user_id, a, ["  GNN ", "gnn", "to cite"]) == [
            "gnn",
            "to cite",
        ]
        library.set_note(conn, user_id, a, "Read section 3 again")
        items = library.items(conn, user_id, tag="gnn")
    assert [i["id"] for i in items] == [a]
    assert items[0]["note"] == "Read section 3 again"


def test_tags_and_notes_need_a_saved_paper_and_sane_sizes(pf, corpus, user_id):
    pid = corpus.ids["graphs"][0]
    with pf.db.transaction() as conn:
        with pytest.raises(library.LibraryError, match="save the paper"):
            library.set_note(conn, user_id, pid, "x")
        library.save(conn, user_id, pid)
        with pytest.raises(library.LibraryError):
            library.set_tags(conn, user_id, pid, ["x" * 51])
        with pytest.raises(library.LibraryError):
            library.set_tags(conn, user_id, pid, [f"t{i}" for i in range(21)])


def test_folders_belong_to_their_owner(pf, corpus, user_id, other_user_id):
    with pf.db.transaction() as conn:
        folder = library.create_folder(conn, user_id, "Mine")
        with pytest.raises(library.LibraryError, match="no such folder"):
            library.add_to_folder(conn, other_user_id, folder, corpus.ids["graphs"][0])
        with pytest.raises(library.LibraryError, match="already"):
            library.create_folder(conn, user_id, "Mine")


def test_saving_clears_not_interested_and_states_report_both(pf, corpus, user_id):
    a, b = corpus.ids["speech"][:2]
    with pf.db.transaction() as conn:
        library.not_interested(conn, user_id, a)
        library.not_interested(conn, user_id, b)
        library.save(conn, user_id, a)
        assert library.states(conn, user_id, [a, b]) == {a: "saved", b: "not_interested"}


def test_export_then_import_round_trips_the_library(pf, corpus, user_id, other_user_id):
    saved = corpus.ids["graphs"][:3] + corpus.ids["robots"][:2]
    with pf.db.transaction() as conn:
        for pid in saved:
            library.save(conn, user_id, pid)
        library.set_tags(conn, user_id, saved[0], ["gnn", "to cite"])
        bib = library_io.to_bibtex(library.items(conn, user_id))
    with pf.db.transaction() as conn:
        report = library_io.import_bibtex(conn, other_user_id, bib.encode(), "export.bib")
        got = library.items(conn, other_user_id)
    assert report.read == 5 and report.matched == 5 and report.unmatched_count == 0
    assert {i["id"] for i in got} == set(saved)
    assert next(i for i in got if i["id"] == saved[0])["tags"] == ["gnn", "to cite"]


def test_import_matches_by_doi_and_title_and_reports_unmatched(pf, corpus, user_id):
    with pf.db.transaction() as conn:
        conn.execute(
            "UPDATE papers SET doi = '10.1000/xyz' WHERE id = %s", (corpus.ids["speech"][0],)
        )
        title = library.papers_by_ids(conn, [corpus.ids["robots"][5]])[0]["title"]
    bib = (
        "@inproceedings{a, title={Some Other Title}, doi={https://doi.org/10.1000/XYZ}}\n"
        f"@article{{b, title={{{title.upper()}}}, year={{2024}}}}\n"
        "@misc{c, title={A Paper This Catalogue Has Never Seen}}\n"
    )
    with pf.db.transaction() as conn:
        report = library_io.import_bibtex(conn, user_id, bib.encode(), "zotero.bib")
        ids = {i["id"] for i in library.items(conn, user_id)}
    assert ids == {corpus.ids["speech"][0], corpus.ids["robots"][5]}
    assert report.unmatched_count == 1
    assert report.unmatched[0]["title"] == "A Paper This Catalogue Has Never Seen"


def test_hostile_bibtex_reports_errors_and_imports_the_valid_rest(pf, corpus, user_id):
    good = corpus.ids["graphs"][0]
    with pf.db.connection() as conn:
        arxiv = library.papers_by_ids(conn, [good])[0]["arxiv_id"]
    huge = "x" * (10 * 1024 * 1024)
    bib = (
        "@article{broken, title={Unbalanced {braces, year=2020,\n\n"
        f"@weirdtype{{w1, title={{Graph Study}}, eprint={{{arxiv}}}}}\n"
        f"@article{{huge, title={{Huge}}, abstract={{{huge}}}}}\n"
        "@article{notitle, year={2021}}\n"
    )
    with pf.db.transaction() as conn:
        report = library_io.import_bibtex(conn, user_id, bib.encode(), "hostile.bib")
        ids = [i["id"] for i in library.items(conn, user_id)]
    assert ids == [good]
    assert report.matched == 1
    assert report.rejected_count >= 2
    assert all(r["reason"] for r in report.rejected)
    with pf.db.connection() as conn:
        row = conn.execute("SELECT rejected, matched FROM library_imports").fetchone()
    assert row["matched"] == 1 and row["rejected"] == report.rejected_count


def test_import_refuses_a_file_over_the_size_limit(pf, user_id):
    with pf.db.transaction() as conn, pytest.raises(library.LibraryError, match="larger"):
        library_io.import_bibtex(conn, user_id, b" " * (library_io.MAX_IMPORT_BYTES + 1))


def test_csv_export_neutralises_formulas_and_lists_tags(pf, corpus, user_id):
    pid = corpus.ids["graphs"][0]
    with pf.db.transaction() as conn:
        library.save(conn, user_id, pid)
        library.set_tags(conn, user_id, pid, ["=cmd|calc", "b"])
        library.set_note(conn, user_id, pid, "@SUM(1)")
        text = library_io.to_csv(library.items(conn, user_id))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["tags"] == "'=cmd|calc; b"
    assert rows[0]["note"] == "'@SUM(1)"
    assert rows[0]["arxiv_id"].startswith("2401.")


def test_bibtex_export_of_hostile_titles_parses_back(pf, corpus):
    papers = [
        {
            "id": 1,
            "title": "Braces } { unbalanced \\ and @ signs",
            "authors": ["A. B"],
            "published_on": None,
            "arxiv_id": None,
        },
        {
            "id": 2,
            "title": "Fine {BERT} title",
            "authors": [],
            "published_on": None,
            "arxiv_id": "2401.00001",
        },
    ]
    from paperfeed.model import Record
    from paperfeed.sources import bibtex

    items = list(bibtex.parse(library_io.to_bibtex(papers).encode(), "x.bib"))
    assert all(isinstance(i, Record) for i in items)
    assert [i.paper.normalised_title for i in items][1] == "fine bert title"
