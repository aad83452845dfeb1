"""The catalogue: merging sightings into papers, idempotence, provenance, concurrency."""

from __future__ import annotations

import threading
import time
from datetime import date

from paperfeed import catalogue
from paperfeed.catalogue import papers
from paperfeed.db import Database
from paperfeed.model import BadRecord, Paper, Record
from paperfeed.sources import listing
from tests.conftest import SEEDS


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
        other_process.execute("SELECT pg_advisory_lock(%s)", (papers._run_lock(live),))
        catalogue.ingest(db, [_record("Fresh", "1")], source="t", origin="next")
        with db.connection() as conn:
            runs = {
                r["id"]: r
                for r in conn.execute("SELECT id, status, message FROM ingest_runs").fetchall()
            }
    assert runs[dead]["status"] == "failed"
    assert runs[dead]["message"].startswith("abandoned")
    assert runs[live]["status"] == "running"


def _titles_in_two_partitions() -> tuple[str, str]:
    """Two titles that the import routes to different writers."""
    titles = [f"Attention variant {n}" for n in range(20)]
    first = titles[0]
    other = next(
        t
        for t in titles
        if catalogue.partition_of(Paper(title=t)) != catalogue.partition_of(Paper(title=first))
    )
    return first, other


def _wait_until_blocked(db_url: str) -> None:
    """Wait until some session of the database waits for a lock (the import's writer)."""
    import psycopg

    deadline = time.monotonic() + 30
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            blocked = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if blocked:
                return
            time.sleep(0.02)
    raise AssertionError("the import never waited for the other writer")


def _ingest_in_thread(db: Database, records: list[Record]) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(catalogue.ingest(db, records, source="arxiv", origin="t"))
        except BaseException as exc:  # noqa: BLE001 - checked by the caller
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_seed_titles_use_every_partition() -> None:
    # Otherwise the concurrency tests above would exercise one writer only.
    partitions = {catalogue.partition_of(r.paper) for r in _seed_items() if isinstance(r, Record)}
    assert partitions == set(range(papers.PARTITIONS))


def test_same_arxiv_id_inserted_by_another_writer_is_merged_not_duplicated(
    db: Database, db_url: str
) -> None:
    import psycopg

    first, other = _titles_in_two_partitions()
    # Another writer (of the other partition) inserts the paper and has not committed yet.
    with psycopg.connect(db_url) as rival:
        rival.execute(
            "INSERT INTO papers (ident, arxiv_id, title, norm_title)"
            " VALUES ('arxiv:2101.00001', '2101.00001', %s, %s)",
            (first, first.lower()),
        )
        thread, outcome = _ingest_in_thread(
            db, [_record(other, "k", arxiv_id="2101.00001", authors=("A. Author",))]
        )
        _wait_until_blocked(db_url)  # on the unique arxiv_id of the rival's row
        rival.commit()
    thread.join(timeout=60)
    report = outcome[0]
    assert not isinstance(report, BaseException), report
    # The batch failed on the unique index, was retried, and merged into the rival's paper.
    assert (report.new, report.merged) == (0, 1)
    with db.connection() as conn:
        rows = conn.execute("SELECT title, authors FROM papers").fetchall()
        sighting = conn.execute("SELECT paper_id FROM paper_sources").fetchone()
    assert rows == [{"title": first, "authors": ["A. Author"]}]
    assert sighting is not None


def test_merge_waits_for_a_concurrent_update_of_the_same_paper(db: Database, db_url: str) -> None:
    import psycopg

    first, other = _titles_in_two_partitions()
    catalogue.ingest(db, [_record(first, "a", arxiv_id="2101.00002")], source="arxiv", origin="t")
    with psycopg.connect(db_url) as rival:
        # Another partition's writer is merging into the paper right now.
        rival.execute(
            "SELECT id FROM papers WHERE arxiv_id = '2101.00002' FOR NO KEY UPDATE"
        ).fetchone()
        rival.execute("UPDATE papers SET github_url = 'https://github.com/x/y'")
        thread, outcome = _ingest_in_thread(
            db, [_record(other, "b", arxiv_id="2101.00002", authors=("B. Author",))]
        )
        _wait_until_blocked(db_url)
        rival.commit()
    thread.join(timeout=60)
    assert not isinstance(outcome[0], BaseException), outcome[0]
    with db.connection() as conn:
        row = conn.execute("SELECT title, authors, github_url FROM papers").fetchone()
    # Both merges survive: the import merged into the updated row, not a stale copy.
    assert row == {"title": first, "authors": ["B. Author"], "github_url": "https://github.com/x/y"}


def test_a_failing_writer_fails_the_run_and_reports_its_error(db: Database) -> None:
    import psycopg
    import pytest

    first, other = _titles_in_two_partitions()
    good = [_record(f"{first} {n}", f"g{n}") for n in range(50)]
    # A constraint violation is no bad value but a broken catalogue: the run must stop.
    with db.transaction() as conn:
        conn.execute(f"ALTER TABLE papers ADD CONSTRAINT no_poison CHECK (title <> '{other}')")
    poison = Record(Paper(title=other, abstract="x"), "test", "bad", "test:bad", {})
    progress: list[int] = []
    with pytest.raises(psycopg.Error):
        catalogue.ingest(
            db, [*good, poison], source="test", origin="t", batch_size=10, progress=progress.append
        )
    with db.connection() as conn:
        run = conn.execute("SELECT status, message, read FROM ingest_runs").fetchone()
    assert run["status"] == "failed" and "no_poison" in run["message"]
    assert run["read"] == sum(progress) <= len(good)


def test_a_value_the_database_refuses_costs_only_its_record(db: Database) -> None:
    first, other = _titles_in_two_partitions()
    # Narrow a column so that a value validation lets through is refused (DataError).
    with db.transaction() as conn:
        conn.execute("ALTER TABLE papers ALTER COLUMN github_url TYPE varchar(50)")
    good = [_record(f"{first} {n}", f"g{n}") for n in range(30)]
    good += [_record(f"{other} {n}", f"o{n}") for n in range(30)]
    poison = _record(other, "bad", github_url="https://github.com/" + "x" * 60)
    records = [*good[:25], poison, *good[25:]]
    progress: list[int] = []
    report = catalogue.ingest(
        db, records, source="test", origin="t", batch_size=10, progress=progress.append
    )
    assert (report.read, report.new, report.rejected) == (61, 60, 1)
    assert sum(progress) == 61
    assert report.errors[0].position == poison.position
    assert report.errors[0].reason.startswith("refused by the database: value too long")
    assert catalogue.count_papers(db) == 60


def test_progress_counts_every_record_once(db: Database) -> None:
    items = [*_seed_items(), BadRecord("listing", "x:1", "bad"), BadRecord("listing", "x:2", "bad")]
    progress: list[int] = []
    report = catalogue.ingest(
        db, items, source="listing", origin="seeds", batch_size=30, progress=progress.append
    )
    assert sum(progress) == report.read == 270
    assert (report.new, report.merged, report.rejected) == (243, 25, 2)


def test_a_held_import_hides_the_papers_it_creates_and_only_those(db: Database) -> None:
    """`hold` hides what the import inserts, through the parallel writers too (batches of
    2, both partitions), and leaves a paper it merges into as it was (visible)."""
    from paperfeed.catalogue import moderation

    catalogue.ingest(db, [_record("Known before", "k0")], source="test", origin="first")
    records = [_record(f"Held paper {i}", f"h{i}") for i in range(7)]
    records.append(_record("Known before", "k1", abstract="A longer abstract of it."))
    assert {catalogue.partition_of(r.paper) for r in records} == set(range(papers.PARTITIONS))
    report = catalogue.ingest(
        db,
        records,
        source="test",
        origin="held",
        batch_size=2,
        hold=moderation.Hold("review", "submitted by account 1"),
    )
    assert (report.new, report.merged) == (7, 1)
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT p.title, hp.reason, hp.note FROM papers p"
            " LEFT JOIN hidden_papers hp ON hp.paper_id = p.id ORDER BY p.title"
        ).fetchall()
    held = {r["title"]: (r["reason"], r["note"]) for r in rows}
    assert held.pop("Known before") == (None, None)
    assert held == {f"Held paper {i}": ("review", "submitted by account 1") for i in range(7)}
