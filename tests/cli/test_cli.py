"""The command line, run in-process against real databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from paperfeed.cli import app
from tests.conftest import SEEDS

runner = CliRunner()


def run(args: list[str], db_url: str, home: Path):
    env = {"PAPERFEED_DATABASE_URL": db_url, "PAPERFEED_HOME": str(home)}
    return runner.invoke(app, args, env=env, catch_exceptions=False)


def test_ingest_seeds_twice_adds_nothing_the_second_time(db_url: str, tmp_path: Path) -> None:
    args = ["ingest", "listing", *map(str, SEEDS), "--listing-year", "2025"]
    first = run(args, db_url, tmp_path)
    assert first.exit_code == 0
    assert "read=268 new=243 merged=25 rejected=0 papers=243" in first.stdout
    second = run(args, db_url, tmp_path)
    assert "read=268 new=0 merged=268 rejected=0 papers=243" in second.stdout


def test_export_round_trips_through_ingest_into_an_empty_catalogue(
    make_db_url: Callable[[], str], tmp_path: Path
) -> None:
    first_db, second_db = make_db_url(), make_db_url()
    run(["ingest", "listing", *map(str, SEEDS), "--listing-year", "2025"], first_db, tmp_path)
    exported, again = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert run(["export", "jsonl", "-o", str(exported)], first_db, tmp_path).exit_code == 0
    result = run(["ingest", "jsonl", str(exported)], second_db, tmp_path)
    assert "new=243" in result.stdout and "rejected=0" in result.stdout
    run(["export", "jsonl", "-o", str(again)], second_db, tmp_path)
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 243
    assert again.read_text(encoding="utf-8").splitlines() == lines


def test_rejected_records_are_listed_with_source_and_position(db_url: str, tmp_path: Path) -> None:
    page = tmp_path / "bad.txt"
    page.write_text(SEEDS[0].read_text(encoding="utf-8").replace("Sep 27, 2023", "Feb 30, 2023", 1))
    result = run(["ingest", "listing", str(page), "--listing-year", "2025"], db_url, tmp_path)
    assert result.exit_code == 0
    assert "rejected=1" in result.stdout
    assert "bad.txt" in result.output and "invalid date 'Feb 30, 2023'" in result.output


def test_missing_file_is_a_clear_error(db_url: str, tmp_path: Path) -> None:
    result = run(["ingest", "jsonl", str(tmp_path / "nope.jsonl")], db_url, tmp_path)
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_db_status_shows_the_schema_version(db_url: str, tmp_path: Path) -> None:
    result = run(["db", "status"], db_url, tmp_path)
    assert result.exit_code == 0
    assert "database: external" in result.stdout
    assert "schema version:" in result.stdout and "pending" not in result.stdout


def test_db_status_shows_the_servers_memory_and_how_to_get_huge_pages(
    db_url: str, tmp_path: Path
) -> None:
    import psycopg

    with psycopg.connect(db_url) as conn:
        buffers, status, needed = conn.execute(
            "SELECT current_setting('shared_buffers'), current_setting('huge_pages_status'),"
            " current_setting('shared_memory_size_in_huge_pages')"
        ).fetchone()
    result = run(["db", "status"], db_url, tmp_path)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("memory:"))
    assert line.startswith(f"memory: shared_buffers {buffers}, huge pages {status}")
    # Whether this machine reserved huge pages (or has any) decides what the line advises.
    advised = status == "off" and int(needed) > 0
    assert (f"sysctl -w vm.nr_hugepages={needed} as root" in line) == advised


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_bibtex_import_reports_bad_entries_and_keeps_the_rest(db_url: str, tmp_path: Path) -> None:
    result = run(["ingest", "bibtex", str(FIXTURES / "bibtex" / "library.bib")], db_url, tmp_path)
    assert result.exit_code == 0
    assert "rejected=5" in result.stdout and "new=6" in result.stdout
    assert "entry has no title" in result.output


def test_hf_daily_saved_response_import(db_url: str, tmp_path: Path) -> None:
    path = FIXTURES / "hf" / "daily_papers_2024-01-10.json"
    result = run(["ingest", "hf-daily", "--file", str(path)], db_url, tmp_path)
    assert result.exit_code == 0 and "read=5" in result.stdout


def test_arxiv_harvest_is_incremental(db_url: str, tmp_path: Path, monkeypatch) -> None:
    """A harvest starts from the last one's responseDate; a failed one does not advance it."""
    from paperfeed.sources import arxiv
    from paperfeed.sources.http import HttpResponse

    pages = [
        (FIXTURES / "arxiv" / "oai_arxiv_page1.xml").read_bytes(),
        (FIXTURES / "arxiv" / "oai_arxiv_page2.xml").read_bytes(),
    ]
    requested: list[str] = []

    def fake_get(url: str, headers, timeout: float) -> HttpResponse:
        requested.append(url)
        if "resumptionToken" in url:
            return HttpResponse(200, {}, pages[1])
        if len(requested) > 2:  # the third run finds the repository down
            return HttpResponse(404, {}, b"gone")
        return HttpResponse(200, {}, pages[0])

    real_client = arxiv.ArxivClient
    monkeypatch.setattr(
        arxiv, "ArxivClient", lambda: real_client(http_get=fake_get, sleep=lambda s: None)
    )
    first = run(["ingest", "arxiv", "--set", "cs"], db_url, tmp_path)
    assert first.exit_code == 0 and "from=beginning" in first.output
    assert "from=" not in requested[0]
    second = run(["ingest", "arxiv", "--set", "cs"], db_url, tmp_path)
    assert "from=20" in requested[2]  # resumes from the recorded responseDate
    assert second.exit_code == 3 and "source unavailable" in second.output
    third = run(["ingest", "arxiv", "--set", "cs"], db_url, tmp_path)
    assert "from=" + requested[2].split("from=")[1] in requested[3]  # did not advance
    assert third.exit_code == 3


def test_db_prewarm_reads_the_papers_table_and_every_index_of_it(
    db_url: str, tmp_path: Path, monkeypatch
) -> None:
    import psycopg
    from psycopg.rows import dict_row

    from paperfeed.db import prewarm

    run(["ingest", "listing", *map(str, SEEDS), "--listing-year", "2025"], db_url, tmp_path)
    monkeypatch.setattr(prewarm, "CHUNK_BLOCKS", 3)  # several chunks per relation
    result = run(["db", "prewarm"], db_url, tmp_path)
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    names = [name for name, _, _ in lines[1:]]
    kinds = [kind for _, kind, _ in lines[1:]]
    assert {"papers", "papers_embedding_idx"} <= set(names)
    assert kinds[0] == "table" and kinds[-1] == "hnsw"  # the graph last: kept if memory is short
    assert "into the page cache" in result.stdout
    with psycopg.connect(db_url, row_factory=dict_row, autocommit=True) as conn:
        expected = {
            r["name"]: r["blocks"]
            for r in conn.execute(
                "SELECT c.oid::regclass::text AS name, pg_relation_size(c.oid) / 8192 AS blocks"
                " FROM pg_class c WHERE c.oid = 'papers'::regclass OR c.oid IN"
                " (SELECT indexrelid FROM pg_index WHERE indrelid = 'papers'::regclass)"
            ).fetchall()
        }
        found = prewarm.relations(conn)
        assert {r.name for r in found} >= {n for n, blocks in expected.items() if blocks}
        for relation in found:
            chunks: list[int] = []
            assert prewarm.read(conn, relation, chunks.append) == relation.blocks
            assert sum(chunks) == relation.blocks and max(chunks) <= 3
            if relation.name in expected:
                assert relation.blocks == expected[relation.name]


def test_db_prewarm_without_the_right_to_create_its_extension_says_so(
    db_url: str, tmp_path: Path
) -> None:
    import uuid

    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    role = f"pf_plain_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        url = make_conninfo(**{**conninfo_to_dict(db_url), "user": role})
        result = run(["db", "prewarm"], url, tmp_path)
        assert result.exit_code == 1
        assert "may not create the pg_prewarm extension" in result.output
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f'DROP ROLE "{role}"')
