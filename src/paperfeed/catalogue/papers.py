"""The catalogue: the only module that writes papers and their provenance.

Records arrive from the sources in batches. A batch is one transaction: it
finds the papers its records already match (arXiv id first, then normalised
title), merges every record into its paper with `model.merge`, inserts the new
papers (hiding them in the same transaction when the import holds what it
creates: `hold`, a new account's submission, catalogue/moderation.py) and
upserts one `paper_sources` row per sighting. A crash loses at most
the batches in flight, and re-reading the same input merges into the same rows,
so an interrupted import finishes by simply running it again.

Parallel writers. Most of an import's cost is PostgreSQL computing the
full-text vector of every new paper, and one backend uses one core. So an
import routes each record by a stable hash of its normalised title to one of
PARTITIONS partitions, and each partition has its own writer thread and
connection that commits its records batch after batch, while the calling
thread reads and validates the input.

Why that stays correct (also between processes importing at the same time):
- Each batch holds the transaction advisory lock (INGEST_LOCK, partition).
  Matching by title never crosses partitions: a paper's stored norm_title is
  the title of the record that created it, so every paper a record can match
  by title was created under the lock of that record's partition. Two imports
  of the same files therefore run each partition's batches one after the
  other instead of inserting the same title-only paper twice.
- Matching by arXiv id can cross partitions (one paper, two spellings of its
  title). Two writers inserting the same arXiv id collide on the unique
  arxiv_id/ident indexes; the loser's batch gets UniqueViolation (or
  DeadlockDetected when each waits for the other) and is retried whole in a
  fresh transaction, where it finds the other's paper and merges into it.
- Matched papers are read with FOR NO KEY UPDATE (in id order), so a merge
  from another partition waits for this one and then merges into the updated
  row: no lost updates.
- A batch of records from several partitions (an import of at most one
  batch is written as one, by the calling thread) takes their locks in
  ascending order, as every writer does, so writers never wait in a circle.
Records of one title stay in input order (one partition, batches in order),
so a re-run or a different batch size gives the same catalogue. Only papers
whose sightings disagree about the title depend on which partition commits
first, as they already did between two concurrent imports. Paper ids follow
the order of the inserts: input order within a partition (so the oldest of
papers sharing a title is still the first one read), interleaved between
partitions.

Readers are never blocked by the writers' locks.

This module is longer than the others (~600 lines) on purpose: the batch, the
writers, the retry and the run bookkeeping share the locking invariants above,
and splitting them would put one argument for correctness in several files.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from queue import Empty, Full, Queue
from typing import Any

import psycopg

from paperfeed.catalogue import derive, moderation
from paperfeed.db import Database
from paperfeed.model import BadRecord, Item, Paper, Record, checked, merge, printable

# Every writer of papers holds (INGEST_LOCK, its partition) for the length of its batch.
INGEST_LOCK = 7_240_002
# The number of title partitions, which is also the number of writers of one
# import. It must be the same in every process that writes to a database (the
# locks only exclude each other for equal partitions), so it is a constant and
# not the core count. Two: one backend per core of the machines paperfeed
# targets; more writers would only contend for the same two cores.
PARTITIONS = 2
# Records per transaction, per partition.
BATCH_SIZE = 2_000
# A batch that collided with another writer is retried this many times in all.
ATTEMPTS = 5
# Seconds between checks for a failed writer while waiting on a full queue.
_POLL = 0.1
# Namespace of the per-run locks that tell a live import from a dead one.
RUN_LOCK_SPACE = 7_240
# How many rejections an ingest run keeps verbatim (the count is always complete).
KEPT_ERRORS = 200

# The raw records become jsonb, which stores strings decoded: escaping non-ASCII
# changes nothing there and makes encoding twice as fast (one encoder, made once).
_raw_json = json.JSONEncoder(default=str).encode

_PAPER_COLUMNS = (
    "arxiv_id, doi, title, norm_title, abstract, authors, author_count, organization,"
    " published_on, published_precision, listed_on, github_url, categories, imported_upvotes"
)

_DATE_COLUMNS = tuple(
    index
    for index, name in enumerate(c.strip() for c in _PAPER_COLUMNS.split(","))
    if name in ("published_on", "listed_on")
)
UPDATE_PAPER = (
    "UPDATE papers SET (" + _PAPER_COLUMNS + ", updated_at)"  # noqa: S608 - constant columns
    " = (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) WHERE id = %s"
)

# Staging tables for COPY: a batch is copied in, then inserted with one statement.
_NEW_PAPERS_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS new_papers (
    ident text, arxiv_id text, doi text, title text, norm_title text, abstract text,
    authors text[], author_count integer, organization text, published_on date,
    published_precision text, listed_on date, github_url text, categories text[],
    imported_upvotes integer
) ON COMMIT DELETE ROWS"""
_NEW_SIGHTINGS_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS new_sightings (
    source text, external_key text, paper_id bigint, first_seen timestamptz,
    last_seen timestamptz, upvotes integer, raw jsonb
) ON COMMIT DELETE ROWS"""


@dataclass
class IngestReport:
    """What an import did: counts plus the rejected records and why."""

    source: str
    origin: str
    read: int = 0
    new: int = 0
    merged: int = 0
    rejected: int = 0
    errors: list[BadRecord] = field(default_factory=list)
    run_id: int | None = None

    def add_error(self, bad: BadRecord) -> None:
        self.rejected += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append(bad)


@dataclass
class _Slot:
    """A paper being assembled in a batch: its row id (None if new) and merged fields."""

    paper: Paper
    paper_id: int | None
    ident: str
    original: Paper | None  # the stored version, to skip no-op updates
    original_updated_at: Any = None  # and when it was last changed (for undo)
    sightings: list[Record] = field(default_factory=list)
    listed: bool = False  # already in the batch's slot list


def paper_from_row(row: dict[str, Any]) -> Paper:
    """The Paper a papers row (any query selecting its _PAPER_COLUMNS) holds."""
    return Paper(
        title=row["title"],
        abstract=row["abstract"],
        arxiv_id=row["arxiv_id"],
        doi=row["doi"],
        authors=tuple(row["authors"]),
        author_count=row["author_count"],
        organization=row["organization"],
        published_on=row["published_on"],
        published_precision=row["published_precision"],
        listed_on=row["listed_on"],
        github_url=row["github_url"],
        upvotes=row["imported_upvotes"],
        categories=tuple(row["categories"]),
    )


def _paper_values(paper: Paper) -> tuple[Any, ...]:
    return (
        paper.arxiv_id,
        paper.doi,
        paper.title,
        paper.normalised_title,
        paper.abstract,
        list(paper.authors),
        paper.author_count,
        paper.organization,
        paper.published_on,
        paper.published_precision,
        paper.listed_on,
        paper.github_url,
        list(paper.categories),
        paper.upvotes,
    )


class _Batch:
    """Resolves a batch of records to papers: the existing ones first, then each other."""

    def __init__(self, conn: psycopg.Connection, records: list[Record]) -> None:
        self.slots: list[_Slot] = []
        self.by_arxiv: dict[str, _Slot] = {}
        self.by_title: dict[str, _Slot] = {}
        arxiv_ids = sorted({r.paper.arxiv_id for r in records if r.paper.arxiv_id})
        titles = sorted({r.paper.normalised_title for r in records})
        # Ordered by id so that, among papers sharing a title, the oldest wins,
        # and so that two writers lock the papers they share in the same order.
        rows = conn.execute(
            "SELECT id, ident, updated_at, " + _PAPER_COLUMNS + " FROM papers"  # noqa: S608
            " WHERE arxiv_id = ANY(%s) OR norm_title = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
            (arxiv_ids, titles),
        ).fetchall()
        for row in rows:
            paper = paper_from_row(row)
            self._index(_Slot(paper, row["id"], row["ident"], paper, row["updated_at"]))

    def _index(self, slot: _Slot) -> None:
        if not slot.listed:
            slot.listed = True
            self.slots.append(slot)
        if slot.paper.arxiv_id:
            self.by_arxiv.setdefault(slot.paper.arxiv_id, slot)
        self.by_title.setdefault(slot.paper.normalised_title, slot)

    def find(self, paper: Paper) -> _Slot | None:
        """The paper this record describes: same arXiv id, else same title.

        A record with an arXiv id merges into a title-only paper of the same
        title, but never into a paper that has a *different* arXiv id: two
        distinct preprints may share a title.
        """
        if paper.arxiv_id:
            slot = self.by_arxiv.get(paper.arxiv_id)
            if slot is not None:
                return slot
            slot = self.by_title.get(paper.normalised_title)
            if slot is not None and slot.paper.arxiv_id is None:
                return slot
            return None
        return self.by_title.get(paper.normalised_title)

    def add(self, record: Record) -> bool:
        """Merge one record in; True when it matched a paper already known."""
        slot = self.find(record.paper)
        if slot is None:
            slot = _Slot(record.paper, None, record.paper.identity, None)
            slot.sightings.append(record)
            self._index(slot)
            return False
        slot.paper = merge(slot.paper, record.paper)
        slot.sightings.append(record)
        self._index(slot)
        return True


def partition_of(paper: Paper) -> int:
    """The partition of a paper's title: the same in every process (unlike hash())."""
    return zlib.crc32(paper.normalised_title.encode("utf-8")) % PARTITIONS


def _write_batch(
    conn: psycopg.Connection,
    records: list[Record],
    run_id: int | None,
    hold: moderation.Hold | None,
) -> tuple[int, int, list[int]]:
    """Merge one batch of valid records into the catalogue; return (new, merged, paper ids)."""
    # In ascending order, like every writer, so that writers never wait in a circle.
    for partition in sorted({partition_of(r.paper) for r in records}):
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (INGEST_LOCK, partition))
    batch = _Batch(conn, records)
    merged = sum(batch.add(r) for r in records)
    new_slots = [s for s in batch.slots if s.paper_id is None]
    changed = [s for s in batch.slots if s.paper_id is not None and s.paper != s.original]

    if new_slots:
        with conn.cursor() as cur:
            cur.execute(_NEW_PAPERS_TABLE)
            with cur.copy("COPY new_papers (ident, " + _PAPER_COLUMNS + ") FROM STDIN") as copy:
                for slot in new_slots:
                    copy.write_row((slot.ident, *_paper_values(slot.paper)))
            rows = cur.execute(
                "INSERT INTO papers (ident, first_run, " + _PAPER_COLUMNS + ")"  # noqa: S608 - constant columns
                " SELECT ident, %s, " + _PAPER_COLUMNS + " FROM new_papers"
                " RETURNING id, ident",
                (run_id,),
            ).fetchall()
        ids = {row["ident"]: row["id"] for row in rows}
        for slot in new_slots:
            slot.paper_id = ids[slot.ident]
        if hold is not None:
            # In the transaction that inserts them: no committed state shows them unheld.
            new_ids = [s.paper_id for s in new_slots if s.paper_id is not None]
            moderation.hide(conn, new_ids, hold.by_user_id, reason=hold.reason, note=hold.note)

    if changed:
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE papers SET (" + _PAPER_COLUMNS + ", updated_at)"  # noqa: S608 - constant columns
                " = (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) WHERE id = %s",
                [(*_paper_values(s.paper), s.paper_id) for s in changed],
            )
            if run_id is not None:
                _record_revisions(cur, changed, run_id)

    _upsert_sightings(conn, batch.slots, run_id)
    return len(new_slots), merged, [s.paper_id for s in batch.slots]  # type: ignore[misc]


def revision_json(paper: Paper) -> str:
    """A paper's stored columns as JSON, the form paper_revisions keeps and compares."""
    return json.dumps(_paper_values(paper), default=str, ensure_ascii=False)


def revision_values(fields: list[Any]) -> tuple[Any, ...]:
    """The column values of a revision_json list, for an UPDATE (dates parsed back)."""
    values = list(fields)
    for index in _DATE_COLUMNS:
        if values[index] is not None:
            values[index] = date.fromisoformat(values[index])
    return tuple(values)


def _record_revisions(cur: psycopg.Cursor, changed: list[_Slot], run_id: int) -> None:
    """Keep each changed paper's fields before the run's first change and after its last.

    Only the latest run's revision of a paper is kept: an older run's could never be
    restored again (the paper no longer holds what that run left), and keeping one
    per paper bounds the table by the papers, not by how often they are re-imported.
    """
    ids = [s.paper_id for s in changed]
    cur.execute(
        "DELETE FROM paper_revisions WHERE paper_id = ANY(%s) AND run_id <> %s", (ids, run_id)
    )
    cur.executemany(
        "INSERT INTO paper_revisions (run_id, paper_id, before, before_updated_at, after)"
        " VALUES (%s, %s, %s, %s, %s)"
        " ON CONFLICT (run_id, paper_id) DO UPDATE SET after = excluded.after",
        [
            (
                run_id,
                s.paper_id,
                revision_json(s.original),  # type: ignore[arg-type] - changed: stored papers
                s.original_updated_at,
                revision_json(s.paper),
            )
            for s in changed
        ],
    )


def _write_batch_retrying(
    conn: psycopg.Connection,
    records: list[Record],
    run_id: int | None,
    hold: moderation.Hold | None,
) -> tuple[int, int, list[int]]:
    """One transaction for the batch, retried whole when it collided with another writer."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with conn.transaction():
                return _write_batch(conn, records, run_id, hold)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
            # Another writer inserted a paper this batch also inserts (see the
            # module docstring): the fresh transaction will find and merge into it.
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


# What PostgreSQL raises for a value it cannot store (out of range, NUL, too long
# for an index …), and what psycopg raises for text it cannot encode.
_REFUSED = (psycopg.DataError, psycopg.errors.ProgramLimitExceeded, UnicodeEncodeError)


def _write_refusing(
    conn: psycopg.Connection,
    records: list[Record],
    run_id: int | None,
    hold: moderation.Hold | None,
) -> _Done:
    """Write a batch; if the database refuses a value validation let through, lose only it.

    `model.checked` rejects everything known to be refused; this is the net under it.
    A refused batch is split in halves until each refused record is alone, and those
    are reported as bad records (about 2·log2(batch) transactions for one bad record).
    """
    try:
        new, merged, paper_ids = _write_batch_retrying(conn, records, run_id, hold)
        return _Done(len(records), new, merged, paper_ids=paper_ids)
    except _REFUSED as exc:
        if len(records) == 1:
            record = records[0]
            reason = printable(str(exc)).strip().splitlines()[0][:200]
            reason = f"refused by the database: {reason}"
            bad = BadRecord(record.source, printable(record.position), reason)
            return _Done(1, 0, 0, [bad])
    half = len(records) // 2
    first = _write_refusing(conn, records[:half], run_id, hold)
    second = _write_refusing(conn, records[half:], run_id, hold)
    return _Done(
        first.records + second.records,
        first.new + second.new,
        first.merged + second.merged,
        first.refused + second.refused,
        first.paper_ids + second.paper_ids,
    )


def _upsert_sightings(conn: psycopg.Connection, slots: list[_Slot], run_id: int | None) -> None:
    rows = []
    seen: set[tuple[str, str]] = set()
    for slot in slots:
        for record in slot.sightings:
            key = (record.source, record.external_key)
            if key in seen:  # the same sighting twice in one batch: keep the first
                continue
            seen.add(key)
            rows.append(
                (
                    record.source,
                    record.external_key,
                    slot.paper_id,
                    record.first_seen,
                    record.last_seen,
                    record.paper.upvotes,
                    record.raw_json if record.raw_json is not None else _raw_json(record.raw),
                )
            )
    with conn.cursor() as cur:
        cur.execute(_NEW_SIGHTINGS_TABLE)
        with cur.copy(
            "COPY new_sightings (source, external_key, paper_id, first_seen, last_seen,"
            " upvotes, raw) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        # A re-read sighting keeps its first_seen and refreshes the rest; an
        # export being restored brings its own timestamps (COALESCE keeps them).
        cur.execute(
            "INSERT INTO paper_sources AS s"
            " (source, external_key, paper_id, first_seen, last_seen, upvotes, raw, first_run)"
            " SELECT source, external_key, paper_id, coalesce(first_seen, now()),"
            "        coalesce(last_seen, now()), upvotes, raw, %s FROM new_sightings"
            " ON CONFLICT (source, external_key) DO UPDATE SET"
            "   paper_id = excluded.paper_id,"
            "   last_seen = greatest(s.last_seen, excluded.last_seen),"
            "   upvotes = excluded.upvotes,"
            "   raw = excluded.raw",
            (run_id,),
        )


@dataclass
class _Done:
    """What a writer reports after committing a batch."""

    records: int
    new: int
    merged: int
    # Records the database refused (see _write_refusing).
    refused: list[BadRecord] = field(default_factory=list)
    # The papers the batch wrote to (new, merged into or given a sighting).
    paper_ids: list[int] = field(default_factory=list)


def _add_progress(conn: psycopg.Connection, run_id: int | None, done: _Done) -> None:
    """Add a committed batch's counts to its run's row, so the admin page shows a running
    import's progress (`_finish_run` writes the exact totals, validation rejects included).

    Written by the writer, not the importing thread: that thread may be blocked
    reading a slow source, with finished batches waiting in its queue. A separate
    short transaction, after the batch's: the writers never wait on each other's
    batches for the run's row lock.
    """
    if run_id is None:
        return
    with conn.transaction():
        conn.execute(
            "UPDATE ingest_runs SET read = read + %s, new = new + %s, merged = merged + %s,"
            " rejected = rejected + %s WHERE id = %s AND status = 'running'",
            (done.records, done.new, done.merged, len(done.refused), run_id),
        )


class _Writer:
    """One partition's writer: a thread with its own connection, committing batch after batch."""

    def __init__(
        self,
        db: Database,
        partition: int,
        results: Queue[_Done | BaseException],
        run_id: int | None,
        hold: moderation.Hold | None,
    ):
        self.db = db
        self.run_id = run_id
        self.hold = hold
        self.results = results
        # One batch queued while one is written: enough to keep PostgreSQL busy
        # without reading far ahead of it.
        self.inbox: Queue[list[Record] | None] = Queue(maxsize=1)
        self.conn: psycopg.Connection | None = None
        self.thread = threading.Thread(
            target=self._run, name=f"ingest-writer-{partition}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        try:
            # Its own connection rather than the pool's: an import needs one per
            # partition at once, whatever the pool size.
            with self.db.dedicated_connection() as conn:
                self.conn = conn
                while (records := self.inbox.get()) is not None:
                    done = _write_refusing(conn, records, self.run_id, self.hold)
                    _add_progress(conn, self.run_id, done)
                    # The batch's authors, links and summaries now, while the importing
                    # thread reads on (one pass after the import kept one core idle).
                    derive.sync_papers(conn, done.paper_ids)
                    self.results.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the importing thread
            self.results.put(exc)

    def submit(self, records: list[Record] | None, while_waiting: Callable[[], None]) -> None:
        """Queue a batch (None: no more); `while_waiting` (which raises when a writer
        failed) is called while the writer has no room, so a failure ends the wait."""
        while True:
            try:
                self.inbox.put(records, timeout=_POLL)
                return
            except Full:
                while_waiting()

    def abort(self) -> None:
        """Drop the queued batch and roll back the one being written."""
        with suppress(Empty):
            self.inbox.get_nowait()
        self.inbox.put(None)
        if self.conn is not None and self.thread.is_alive():
            # A failed cancel (the connection just closed) only means waiting for the batch.
            with suppress(psycopg.Error):
                self.conn.cancel_safe()


class _Import:
    """Routes one import's records to its writers and counts what they committed.

    An input of at most one batch is written as that one batch by the calling
    thread (holding every partition lock it needs): starting writers would gain
    nothing, and the papers get their ids in input order, as a sequential
    import gives them. Past one batch, a writer per partition takes over.
    """

    def __init__(
        self,
        db: Database,
        report: IngestReport,
        batch_size: int,
        progress: Callable[[int], None] | None,
        hold: moderation.Hold | None,
    ) -> None:
        self.db = db
        self.report = report
        self.hold = hold
        self.batch_size = batch_size
        self.progress = progress
        self.unreported_bad = 0  # rejected records not yet passed to `progress`
        self.first: list[Record] | None = []  # the records until they outgrow one batch
        self.pending: list[list[Record]] = [[] for _ in range(PARTITIONS)]
        self.results: Queue[_Done | BaseException] = Queue()
        self.writers: list[_Writer] = []

    def reject(self, bad: BadRecord) -> None:
        self.report.add_error(bad)
        self.unreported_bad += 1

    def add(self, record: Record) -> None:
        if self.first is None:
            self._route(record)
            return
        self.first.append(record)
        if len(self.first) > self.batch_size:
            first, self.first = self.first, None
            self.writers = [
                _Writer(self.db, p, self.results, self.report.run_id, self.hold)
                for p in range(PARTITIONS)
            ]
            for buffered in first:
                self._route(buffered)

    def _route(self, record: Record) -> None:
        partition = partition_of(record.paper)
        records = self.pending[partition]
        records.append(record)
        if len(records) >= self.batch_size:
            self.writers[partition].submit(records, self.collect)
            self.pending[partition] = []
            self.collect()

    def collect(self) -> None:
        """Count the batches committed so far; re-raise a writer's error."""
        while True:
            try:
                result = self.results.get_nowait()
            except Empty:
                return
            if isinstance(result, BaseException):
                raise result
            self._count(result)

    def _count(self, done: _Done) -> None:
        for bad in done.refused:
            self.report.add_error(bad)
        self.report.new += done.new
        self.report.merged += done.merged
        handled = done.records + self.unreported_bad
        self.unreported_bad = 0
        self.report.read += handled
        if self.progress and handled:
            self.progress(handled)

    def finish(self) -> None:
        """Write what is left and wait until every batch is committed."""
        if self.first is not None:
            if self.first:
                with self.db.connection() as conn:
                    done = _write_refusing(conn, self.first, self.report.run_id, self.hold)
                    self._count(done)
        else:
            for writer, records in zip(self.writers, self.pending, strict=True):
                if records:
                    writer.submit(records, self.collect)
            for writer in self.writers:
                writer.submit(None, self.collect)
            for writer in self.writers:
                writer.thread.join()
            self.collect()
        self._count(_Done(0, 0, 0))  # rejections after the last batch

    def abort(self) -> None:
        """Stop the writers, rolling back the batches in flight."""
        for writer in self.writers:
            writer.abort()
        for writer in self.writers:
            writer.thread.join()


def ingest(
    db: Database,
    items: Iterable[Item],
    *,
    source: str,
    origin: str,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    hold: moderation.Hold | None = None,
) -> IngestReport:
    """Import records from one source run, batch by batch, and record the run.

    The calling thread reads and validates `items`; batches of up to `batch_size`
    records are written by one writer per title partition (see the module docstring).
    `progress` is called with the number of records (good or bad) each batch handled.
    A failing batch (e.g. the database went away) marks the run failed and re-raises;
    the batches committed before it stay and a re-run merges over them.
    With `hold`, every paper the import creates is hidden in the batch transaction
    that inserts it (a new account's submission: moderation.review_hold).
    """
    report = IngestReport(source=source, origin=origin)
    with db.connection() as owner:
        _start_run(owner, report)
        try:
            run = _Import(db, report, batch_size, progress, hold)
            try:
                for item in checked(items):
                    if isinstance(item, BadRecord):
                        run.reject(item)
                    else:
                        run.add(item)
                run.finish()
            except BaseException:
                run.abort()
                raise
        except BaseException as exc:
            _finish_run(db, report, "failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            owner.execute("SELECT pg_advisory_unlock(%s)", (_run_lock(report.run_id),))
    _finish_run(db, report, "finished", None)
    # Authors, links and imported summaries of what changed (see catalogue/derive.py).
    derive.sync(db)
    return report


def _run_lock(run_id: int | None) -> int:
    return (RUN_LOCK_SPACE << 40) + (run_id or 0)


def _start_run(owner: psycopg.Connection, report: IngestReport) -> None:
    """Record the run and hold its lock on `owner` for as long as this process imports.

    The lock is taken in the transaction that creates the row, so no one can see
    the run 'running' without its lock. A run whose lock is free has lost its
    process (SIGKILL, power cut): the next import marks it abandoned.
    """
    with owner.transaction():
        row = owner.execute(
            "INSERT INTO ingest_runs (source, origin) VALUES (%s, %s) RETURNING id",
            (report.source, printable(report.origin)),
        ).fetchone()
        report.run_id = row["id"]
        owner.execute("SELECT pg_advisory_lock(%s)", (_run_lock(report.run_id),))
    running = owner.execute(
        "SELECT id FROM ingest_runs WHERE status = 'running' AND id <> %s", (report.run_id,)
    ).fetchall()
    for run in running:
        lock = _run_lock(run["id"])
        if owner.execute("SELECT pg_try_advisory_lock(%s) AS free", (lock,)).fetchone()["free"]:
            owner.execute(
                "UPDATE ingest_runs SET status = 'failed', finished_at = now(), message = %s"
                " WHERE id = %s AND status = 'running'",
                ("abandoned: the importing process died before finishing", run["id"]),
            )
            owner.execute("SELECT pg_advisory_unlock(%s)", (lock,))


def _finish_run(db: Database, report: IngestReport, status: str, message: str | None) -> None:
    errors = [
        {"position": printable(e.position), "reason": printable(e.reason)} for e in report.errors
    ]
    try:
        with db.transaction() as conn:
            conn.execute(
                "UPDATE ingest_runs SET finished_at = now(), status = %s, read = %s, new = %s,"
                " merged = %s, rejected = %s, errors = %s, message = %s WHERE id = %s",
                (
                    status,
                    report.read,
                    report.new,
                    report.merged,
                    report.rejected,
                    json.dumps(errors),
                    printable(message) if message else None,
                    report.run_id,
                ),
            )
    except psycopg.Error:
        # Recording the failure must not hide the error that caused it.
        if status == "finished":
            raise


def get_state(db: Database, source: str, key: str) -> str | None:
    """A value a source kept from its last run (e.g. the last harvest date)."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT value FROM ingest_state WHERE source = %s AND key = %s", (source, key)
        ).fetchone()
    return row["value"] if row else None


def set_state(db: Database, source: str, key: str, value: str) -> None:
    """Remember a value for the source's next run."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO ingest_state (source, key, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (source, key) DO UPDATE SET value = excluded.value, updated_at = now()",
            (source, key, value),
        )


def paper_id_for_arxiv(conn: psycopg.Connection, arxiv_id: str) -> int | None:
    """The catalogue id of an arXiv paper, if known."""
    row = conn.execute("SELECT id FROM papers WHERE arxiv_id = %s", (arxiv_id,)).fetchone()
    return row["id"] if row else None


def paper_id_for_sighting(conn: psycopg.Connection, source: str, external_key: str) -> int | None:
    """The paper a source's sighting was merged into."""
    row = conn.execute(
        "SELECT paper_id FROM paper_sources WHERE source = %s AND external_key = %s",
        (source, external_key),
    ).fetchone()
    return row["paper_id"] if row else None


def count_papers(db: Database) -> int:
    """How many papers the catalogue holds."""
    with db.connection() as conn:
        return conn.execute("SELECT count(*) AS n FROM papers").fetchone()["n"]


def iter_export(db: Database, *, chunk: int = 5_000) -> Iterator[tuple[int, Paper, list[dict]]]:
    """Every paper with its sightings, in id order, streamed in chunks for the JSONL export."""
    last_id = 0
    while True:
        with db.connection() as conn:
            rows = conn.execute(
                "SELECT p.id, "  # noqa: S608 - constant columns, values are parameters
                + ", ".join(f"p.{c.strip()}" for c in _PAPER_COLUMNS.split(","))
                + ", (SELECT coalesce(json_agg(json_build_object("
                "     'source', s.source, 'external_key', s.external_key,"
                "     'first_seen', s.first_seen, 'last_seen', s.last_seen,"
                "     'upvotes', s.upvotes, 'raw', s.raw)"
                "     ORDER BY s.first_seen, s.source, s.external_key), '[]')"
                "   FROM paper_sources s WHERE s.paper_id = p.id) AS sources"
                " FROM papers p WHERE p.id > %s ORDER BY p.id LIMIT %s",
                (last_id, chunk),
            ).fetchall()
        if not rows:
            return
        for row in rows:
            yield row["id"], paper_from_row(row), row["sources"]
        last_id = rows[-1]["id"]
