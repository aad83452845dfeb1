"""Issue 13: refusing what isn't papers, and a mistyped OAI set (defects 10 and 11)."""

from __future__ import annotations

import json
from pathlib import Path

from paperfeed.sources.http import HttpResponse
from tests.cli.test_cli import run
from tests.sources.realdata import REALDATA

README = REALDATA / "bibtex_in_readme" / "opendatalab_REST_README.md"


def _papers(db_url: str, home: Path) -> str:
    return run(["db", "status"], db_url, home).stdout


def test_a_readme_is_no_listing_page(db_url: str, tmp_path: Path) -> None:
    result = run(["ingest", "listing", str(README)], db_url, tmp_path)
    assert result.exit_code == 1
    assert "not a Daily Papers listing page" in result.output
    assert "nothing was imported" in result.output
    assert "papers: 0" in _papers(db_url, tmp_path)


def test_a_readme_is_no_jsonl_and_nothing_is_written(db_url: str, tmp_path: Path) -> None:
    result = run(["ingest", "jsonl", str(README)], db_url, tmp_path)
    assert result.exit_code == 1 and "invalid JSON" in result.output
    status = _papers(db_url, tmp_path)
    assert "papers: 0" in status and "jsonl" not in status  # not even an ingest run


def test_a_readme_is_no_bibtex_file_but_its_citation_block_is_read(
    db_url: str, tmp_path: Path
) -> None:
    ours = Path(__file__).resolve().parents[2] / "README.md"
    result = run(["ingest", "bibtex", str(ours)], db_url, tmp_path)
    assert result.exit_code == 1 and "no records found" in result.output
    # The REST README holds the authors' own @misc citation: that one entry is read.
    cited = run(["ingest", "bibtex", str(README)], db_url, tmp_path)
    assert cited.exit_code == 0 and "read=1 new=1" in cited.stdout


def test_mostly_rejected_needs_force_and_all_rejected_exits_non_zero(
    db_url: str, tmp_path: Path
) -> None:
    lines = ['{"title": "One good paper"}'] + ['{"abstract": "no title"}'] * 3
    path = tmp_path / "mostly_bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    refused = run(["ingest", "jsonl", str(path)], db_url, tmp_path)
    assert refused.exit_code == 1 and "3 of the first 4 records are rejected" in refused.output
    forced = run(["ingest", "jsonl", str(path), "--force"], db_url, tmp_path)
    assert forced.exit_code == 0 and "new=1" in forced.stdout and "rejected=3" in forced.stdout
    path.write_text('{"abstract": "no title"}\n')
    all_bad = run(["ingest", "jsonl", str(path), "--force"], db_url, tmp_path)
    assert all_bad.exit_code == 1 and "every record was rejected" in all_bad.output


def test_the_issue_example_lands_the_good_line_and_exits_zero(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_text('{"title":"a"}\n{"title":"b","upvotes":3000000000}\n{"title":"c"}\n')
    result = run(["ingest", "jsonl", str(path)], db_url, tmp_path)
    assert result.exit_code == 0
    assert "read=3 new=2 merged=0 rejected=1" in result.stdout


def test_a_mistyped_set_fails_and_does_not_advance_the_harvest(
    db_url: str, tmp_path: Path, monkeypatch
) -> None:
    from paperfeed.sources import arxiv

    no_set = (REALDATA / "oai" / "saelim_ErrorResponseNoRecordsMatch.xml").read_bytes()
    quiet = (REALDATA / "oai" / "sickle_spec_noRecordsMatch.xml").read_bytes()
    answers = {"cs.LG": no_set, "cs": quiet}
    requested: list[str] = []

    def fake_get(url: str, headers, timeout: float) -> HttpResponse:
        requested.append(url)
        return HttpResponse(200, {}, answers["cs.LG" if "set=cs.LG" in url else "cs"])

    real_client = arxiv.ArxivClient
    monkeypatch.setattr(
        arxiv, "ArxivClient", lambda: real_client(http_get=fake_get, sleep=lambda s: None)
    )
    bad = run(["ingest", "arxiv", "--set", "cs.LG"], db_url, tmp_path)
    assert bad.exit_code == 3 and "doesn't match any sets" in bad.output
    again = run(["ingest", "arxiv", "--set", "cs.LG"], db_url, tmp_path)
    assert again.exit_code == 3 and "from=" not in requested[-1]  # state did not advance
    # A quiet day (noRecordsMatch without a bad set) is a success and advances the state.
    ok = run(["ingest", "arxiv", "--set", "cs"], db_url, tmp_path)
    assert ok.exit_code == 0 and "read=0" in ok.stdout
    run(["ingest", "arxiv", "--set", "cs"], db_url, tmp_path)
    assert "from=2002-02-08" in requested[-1]


def test_kaggle_lines_through_ingest_jsonl_keep_dates(db_url: str, tmp_path: Path) -> None:
    snapshot = next((REALDATA / "kaggle").glob("*.json"))
    result = run(["ingest", "jsonl", str(snapshot)], db_url, tmp_path)
    assert result.exit_code == 0 and "read=200 new=200" in result.stdout
    export = tmp_path / "out.jsonl"
    run(["export", "jsonl", "-o", str(export)], db_url, tmp_path)
    papers = [json.loads(line) for line in export.read_text().splitlines()]
    assert all(p["published_on"] for p in papers)
    first = next(p for p in papers if p["arxiv_id"] == "0704.0001")
    assert first["published_on"] == "2007-04-02" and first["authors"][0] == "C. Balázs"


def test_ingest_auto_says_which_reader_it_chose(db_url: str, tmp_path: Path) -> None:
    from tests.conftest import FIXTURES

    paths = [
        next((REALDATA / "kaggle").glob("*.json")),
        REALDATA / "hf_daily" / "hfnews_zh_2025-07-15.json",
        REALDATA / "oai" / "saelim_ListRecordsResponse.xml",
        REALDATA / "atom" / "arxivpy_2016_au_del_maestro.xml",
        FIXTURES / "ris" / "endnote_export.ris",
        FIXTURES / "csl" / "zotero_export.json",
        FIXTURES / "openalex" / "works_response.json",
        FIXTURES / "semantic_scholar" / "search_response.json",
    ]
    result = run(["ingest", "auto", *map(str, paths)], db_url, tmp_path)
    assert result.exit_code == 0, result.output
    for line in [
        "arxivSpider_mnbvc_arxiv-metadata-oai-snapshot_head200.json: detected kaggle",
        "hfnews_zh_2025-07-15.json: detected hf-daily",
        "saelim_ListRecordsResponse.xml: detected oai",
        "arxivpy_2016_au_del_maestro.xml: detected atom",
        "endnote_export.ris: detected ris",
        "zotero_export.json: detected csl-json",
        "works_response.json: detected openalex",
        "search_response.json: detected semantic-scholar",
    ]:
        assert line in result.stdout
    assert "read=200 new=200" in result.stdout and "read=10 new=10" in result.stdout
    unknown = run(
        ["ingest", "auto", str(Path(__file__).resolve().parents[2] / "README.md")], db_url, tmp_path
    )
    assert unknown.exit_code == 2 and "cannot tell its format" in unknown.output


def test_undo_and_delete_from_the_command_line(db_url: str, tmp_path: Path) -> None:
    hf = REALDATA / "hf_daily" / "hfnews_zh_2025-07-15.json"
    imported = run(["ingest", "hf-daily", "--file", str(hf)], db_url, tmp_path)
    assert "undo: paperfeed ingest undo 1" in imported.output
    undone = run(["ingest", "undo", "1"], db_url, tmp_path)
    assert undone.exit_code == 0 and "papers=10 sightings=10 kept=0" in undone.stdout
    status = run(["db", "status"], db_url, tmp_path).stdout
    assert "undone" in status and "papers: 0" in status
    again = run(["ingest", "undo", "1"], db_url, tmp_path)
    assert again.exit_code == 1 and "undone already" in again.output
    run(["ingest", "hf-daily", "--file", str(hf)], db_url, tmp_path)
    deleted = run(["papers", "delete", "11", "12", "999"], db_url, tmp_path)
    assert deleted.exit_code == 0 and "papers=2 sightings=2" in deleted.stdout
    assert (
        "no such paper" in deleted.output
        and "papers: 8" in run(["db", "status"], db_url, tmp_path).stdout
    )
