"""Taking papers out again: `paperfeed papers delete ID…` and `paperfeed ingest undo RUN_ID`.

Undoing a run removes what it added: every sighting the run first made
(`paper_sources.first_run`), and every paper it created that no other run has
seen since (`papers.first_run`, with no sighting from another run left). Papers
it merged into stay, minus its sightings, and get back the fields they had
before the run (`paper_revisions`, written by the run): only if they still hold
what the run left and no later run has seen them — otherwise an edit or a later
import's merge would be lost, so their fields stay and they are reported.

Users' references are handled explicitly: a paper someone voted for, saved to
a library or commented on is kept (and reported) unless `including_used`, in
which case those votes, library entries and comments go with it (their foreign
keys cascade; submissions keep their rows, pointing at nothing). Either way it is
one transaction that holds every ingest partition lock, so no import is merging
into the papers being removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from paperfeed.catalogue.papers import (
    INGEST_LOCK,
    PARTITIONS,
    UPDATE_PAPER,
    paper_from_row,
    revision_json,
    revision_values,
)
from paperfeed.db import Database


class CannotUndo(ValueError):
    """The run does not exist, is still running, or was undone already."""


@dataclass
class Removal:
    """What a delete or an undo removed, and what it kept."""

    papers: int = 0
    sightings: int = 0
    # Papers kept because users voted for, saved or commented on them (ids).
    kept: list[int] = field(default_factory=list)
    # References removed with papers (only with including_used).
    votes: int = 0
    saved: int = 0
    comments: int = 0
    missing: list[int] = field(default_factory=list)  # ids asked for that do not exist
    # Papers the run merged into whose earlier fields were put back, and (ids) those
    # whose fields stay because something changed or saw them after the run.
    restored: int = 0
    unrestored: list[int] = field(default_factory=list)


def _lock_partitions(conn: psycopg.Connection) -> None:
    for partition in range(PARTITIONS):  # ascending, like every writer
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (INGEST_LOCK, partition))


def _remove_papers(
    conn: psycopg.Connection, ids: list[int], including_used: bool, removal: Removal
) -> None:
    """Delete papers `ids` (existing ones), keeping those users refer to unless told."""
    used = conn.execute(
        "SELECT id, (SELECT count(*) FROM votes v WHERE v.paper_id = p.id) AS votes,"
        " (SELECT count(*) FROM library_items l WHERE l.paper_id = p.id) AS saved,"
        " (SELECT count(*) FROM comments c WHERE c.paper_id = p.id) AS comments"
        " FROM papers p WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
        (ids,),
    ).fetchall()
    doomed = []
    for row in used:
        if (row["votes"] or row["saved"] or row["comments"]) and not including_used:
            removal.kept.append(row["id"])
            continue
        removal.votes += row["votes"]
        removal.saved += row["saved"]
        removal.comments += row["comments"]
        doomed.append(row["id"])
    if doomed:
        removal.sightings += conn.execute(
            "DELETE FROM paper_sources WHERE paper_id = ANY(%s)", (doomed,)
        ).rowcount
        removal.papers += conn.execute("DELETE FROM papers WHERE id = ANY(%s)", (doomed,)).rowcount


def delete_papers(db: Database, ids: Iterable[int], *, including_used: bool = False) -> Removal:
    """Delete papers by id with all their sightings, in one transaction."""
    wanted = sorted(set(ids))
    removal = Removal()
    with db.transaction() as conn:
        _lock_partitions(conn)
        found = {
            r["id"]
            for r in conn.execute("SELECT id FROM papers WHERE id = ANY(%s)", (wanted,)).fetchall()
        }
        removal.missing = [i for i in wanted if i not in found]
        _remove_papers(conn, sorted(found), including_used, removal)
    return removal


def undo_run(db: Database, run_id: int, *, including_used: bool = False) -> Removal:
    """Remove what import run `run_id` added (see the module docstring), in one transaction."""
    removal = Removal()
    with db.transaction() as conn:
        _lock_partitions(conn)
        run = conn.execute(
            "SELECT status FROM ingest_runs WHERE id = %s FOR UPDATE", (run_id,)
        ).fetchone()
        if run is None:
            raise CannotUndo(f"there is no import run {run_id}")
        if run["status"] == "running":
            raise CannotUndo(f"run {run_id} is still running (or died: see `paperfeed db status`)")
        if run["status"] == "undone":
            raise CannotUndo(f"run {run_id} was undone already")
        # Papers the run created that only its own sightings describe.
        only_this_run = [
            r["id"]
            for r in conn.execute(
                "SELECT p.id FROM papers p WHERE p.first_run = %s AND NOT EXISTS ("
                "  SELECT 1 FROM paper_sources s WHERE s.paper_id = p.id"
                "  AND s.first_run IS DISTINCT FROM %s) ORDER BY p.id",
                (run_id, run_id),
            ).fetchall()
        ]
        _remove_papers(conn, only_this_run, including_used, removal)
        touched = conn.execute(
            "DELETE FROM paper_sources WHERE first_run = %s AND paper_id <> ALL(%s)"
            " RETURNING paper_id",
            (run_id, removal.kept),
        ).fetchall()
        removal.sightings += len(touched)
        # A paper whose every sighting is gone now (its creating run was undone
        # before) has nothing left to say it exists.
        orphans = [
            r["id"]
            for r in conn.execute(
                "SELECT p.id FROM papers p WHERE p.id = ANY(%s) AND NOT EXISTS ("
                "  SELECT 1 FROM paper_sources s WHERE s.paper_id = p.id) ORDER BY p.id",
                (sorted({r["paper_id"] for r in touched}),),
            ).fetchall()
        ]
        _remove_papers(conn, orphans, including_used, removal)
        _restore_revisions(conn, run_id, removal)
        message = f"undone: removed {removal.papers} papers and {removal.sightings} sightings"
        if removal.restored:
            message += f"; restored the fields of {removal.restored} papers"
        if removal.unrestored:
            message += f"; {len(removal.unrestored)} papers changed since keep their fields"
        if removal.kept:
            message += f"; kept {len(removal.kept)} papers users voted for, saved or commented on"
        conn.execute(
            "UPDATE ingest_runs SET status = 'undone', undone_at = now(), message = %s"
            " WHERE id = %s",
            (message, run_id),
        )
    return removal


def _restore_revisions(conn: psycopg.Connection, run_id: int, removal: Removal) -> None:
    """Put back the fields run `run_id` merged into papers that stay (see the docstring)."""
    rows = conn.execute(
        "SELECT r.paper_id, r.before, r.before_updated_at, r.after, p.*,"
        "  EXISTS (SELECT 1 FROM paper_sources s WHERE s.paper_id = r.paper_id"
        "          AND s.last_seen > coalesce(run.finished_at, now())) AS seen_since"
        " FROM paper_revisions r JOIN papers p ON p.id = r.paper_id"
        " JOIN ingest_runs run ON run.id = r.run_id"
        " WHERE r.run_id = %s ORDER BY r.paper_id FOR NO KEY UPDATE OF p",
        (run_id,),
    ).fetchall()
    for row in rows:
        current = json.loads(revision_json(paper_from_row(row)))
        if row["seen_since"] or current != row["after"]:
            removal.unrestored.append(row["paper_id"])
            continue
        values = revision_values(row["before"])
        conn.execute(UPDATE_PAPER, (*values, row["before_updated_at"], row["paper_id"]))
        removal.restored += 1
    conn.execute("DELETE FROM paper_revisions WHERE run_id = %s", (run_id,))
