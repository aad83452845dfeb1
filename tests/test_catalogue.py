"""The catalogue: merging sightings into papers, idempotence, provenance, concurrency."""

from __future__ import annotations

import threading
from datetime import date

from paperfeed import catalogue
from paperfeed.db import Database
from paperfeed.model import BadRecord, Paper, Record
from paperfeed.sources import listing

from .conftest import SEEDS


def _record(title: str, key: str, source: str = "test", **fields: object) -> Record:
    return Record(
        Paper(title=title, abstract=fields.pop("abstract", "An abstract."), **fields),
        source,
        key,
        f"test:{key}",
    )


def _seed_items() -> list:
    items = []
    for path in SEEDS:
        items.extend(listing.parse(path.read_bytes(), str(path), 2025))
    return items


def _snapshot(db: Database) -> tuple[list, list]:
    """The catalogue's content without ids and timestamps, for comparing two runs."""
    with db.connection() as conn:
        papers = conn.execute(
            "SELECT ident, arxiv_id, title, abstract, authors, author_count, organization,"
            " published_on, listed_on, github_url, imported_upvotes FROM papers ORDER BY ident"
        ).fetchall()
        sources = conn.execute(
            "SELECT s.source, s.external_key, p.ident, s.upvotes, s.raw FROM paper_sources s"
            " JOIN papers p ON p.id = s.paper_id ORDER BY s.source, s.external_key"
        ).fetchall()
    return papers, sources


def test_seed_pages_give_268_cards_and_243_papers(db: Database) -> None:
    report = catalogue.ingest(db, _seed_items(), source="listing", origin="seeds")
    assert (report.read, report.new, report.rejected) == (268, 243, 0)
    assert catalogue.count_papers(db) == 243
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM paper_sources").fetchone()["n"] == 268


def test_reimport_adds_nothing(db: Database) -> None:
    catalogue.ingest(db, _seed_items(), source="listing", origin="seeds")
    before = _snapshot(db)
    report = catalogue.ingest(db, _seed_items(), source="listing", origin="seeds")
    assert (report.new, report.merged) == (0, 268)
    assert _snapshot(db) == before


def test_small_batches_give_the_same_catalogue_as_one(db: Database, pf) -> None:
    catalogue.ingest(db, _seed_items(), source="listing", origin="seeds", batch_size=7)
    small = _snapshot(db)
    with db.transaction() as conn:
        conn.execute("TRUNCATE papers CASCADE")
    catalogue.ingest(db, _seed_items(), source="listing", origin="seeds")
    assert _snapshot(db) == small


def test_title_only_record_merges_into_arxiv_paper(db: Database) -> None:
    catalogue.ingest(
        db,
        [
            _record(
                "Layer Normalization",
                "a",
                arxiv_id="1607.06450",
                authors=("J. Ba", "J. Kiros", "G. Hinton"),
            )
        ],
        source="arxiv",
        origin="t",
    )
    report = catalogue.ingest(
        db,
        [
            _record(
                "Layer  normalization!",
                "b",
                author_count=3,
                abstract="A longer abstract than before.",
            )
        ],
        source="listing",
        origin="t",
    )
    assert (report.new, report.merged) == (0, 1)
    with db.connection() as conn:
        row = conn.execute("SELECT * FROM papers").fetchone()
    assert row["arxiv_id"] == "1607.06450"
    assert row["abstract"] == "A longer abstract than before."
    assert row["authors"] == ["J. Ba", "J. Kiros", "G. Hinton"]


def test_same_title_different_arxiv_ids_stay_two_papers(db: Database) -> None:
    catalogue.ingest(
        db,
        [
            _record("Attention", "a", arxiv_id="2101.00001"),
            _record("Attention", "b", arxiv_id="2101.00002"),
        ],
        source="arxiv",
        origin="t",
    )
    assert catalogue.count_papers(db) == 2


def test_conflicting_dates_keep_the_earliest_and_all_sightings(db: Database) -> None:
    catalogue.ingest(
        db,
        [
            _record("X paper", "1", published_on=date(2024, 5, 1), upvotes=3),
            _record("X paper", "2", published_on=date(2024, 4, 1), upvotes=9),
        ],
        source="listing",
        origin="t",
    )
    with db.connection() as conn:
        paper = conn.execute("SELECT published_on, imported_upvotes FROM papers").fetchone()
        ups = conn.execute("SELECT upvotes FROM paper_sources ORDER BY external_key").fetchall()
    assert paper == {"published_on": date(2024, 4, 1), "imported_upvotes": 9}
    assert [r["upvotes"] for r in ups] == [3, 9]


def test_bad_records_are_reported_and_the_rest_lands(db: Database) -> None:
    items = [
        _record("Good one", "1"),
        BadRecord("test", "file:3", "invalid date 'Feb 30'"),
        _record("   ", "2"),
        _record("Huge", "3", abstract="x" * 1_000_000),
        _record("Good two", "4"),
    ]
    report = catalogue.ingest(db, items, source="test", origin="t")
    assert (report.new, report.rejected) == (2, 3)
    reasons = [e.reason for e in report.errors]
    assert reasons[0] == "invalid date 'Feb 30'"
    assert "missing title" in reasons[1]
    assert "abstract of 1000000 characters" in reasons[2]
    with db.connection() as conn:
        run = conn.execute("SELECT status, rejected, errors FROM ingest_runs").fetchone()
    assert run["status"] == "finished" and run["rejected"] == 3
    assert run["errors"][2]["position"] == "test:3"


def test_concurrent_imports_of_the_same_files_yield_one_copy(db_url: str) -> None:
    items = _seed_items()
    errors: list[BaseException] = []

    def run() -> None:
        db = Database(db_url, pool_size=2)
        try:
            catalogue.ingest(db, items, source="listing", origin="seeds", batch_size=20)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = Database(db_url, pool_size=1)
    try:
        assert catalogue.count_papers(db) == 243
        with db.connection() as conn:
            assert conn.execute("SELECT count(*) AS n FROM paper_sources").fetchone()["n"] == 268
    finally:
        db.close()


def test_state_round_trip(db: Database) -> None:
    assert catalogue.get_state(db, "arxiv", "cs") is None
    catalogue.set_state(db, "arxiv", "cs", "2025-01-01")
    catalogue.set_state(db, "arxiv", "cs", "2025-01-02")
    assert catalogue.get_state(db, "arxiv", "cs") == "2025-01-02"


def test_runs_of_dead_importers_are_marked_abandoned_and_live_ones_left_alone(
    db: Database, db_url: str
) -> None:
    import psycopg

    with db.transaction() as conn:
        dead = conn.execute(
            "INSERT INTO ingest_runs (source, origin) VALUES ('t', 'dead') RETURNING id"
        ).fetchone()["id"]
        live = conn.execute(
            "INSERT INTO ingest_runs (source, origin) VALUES ('t', 'live') RETURNING id"
        ).fetchone()["id"]
    with psycopg.connect(db_url, autocommit=True) as other_process:
        other_process.execute("SELECT pg_advisory_lock(%s)", (catalogue._run_lock(live),))
        catalogue.ingest(db, [_record("Fresh", "1")], source="t", origin="next")
        with db.connection() as conn:
            runs = {
                r["id"]: r
                for r in conn.execute("SELECT id, status, message FROM ingest_runs").fetchall()
            }
    assert runs[dead]["status"] == "failed"
    assert runs[dead]["message"].startswith("abandoned")
    assert runs[live]["status"] == "running"
