"""The catalogue: every writer of stored state, each module named for what it owns.

- `papers`: papers and their provenance (the import pipeline, identity look-ups,
  the export, per-source harvest state). Its API is re-exported here, so callers
  write `catalogue.ingest(...)`.
- `removal`: deleting papers and undoing an import run (`delete_papers`, `undo_run`).
- `accounts`: users, sessions, API tokens, votes and submissions.
- `library`: a user's saved papers, folders, tags, notes and "not interested".
- `library_io`: importing and exporting a library (BibTeX, CSV, JSON).
- `submissions`: fetching the arXiv papers users submitted by id.

Only this package (and `delivery`, for its outbox and subscriptions) writes; the
index, ranking and delivery layers read what it stored.
"""

from paperfeed.catalogue.papers import (
    BATCH_SIZE,
    IngestReport,
    count_papers,
    get_state,
    ingest,
    iter_export,
    paper_id_for_arxiv,
    paper_id_for_sighting,
    partition_of,
    set_state,
)
from paperfeed.catalogue.removal import CannotUndo, Removal, delete_papers, undo_run

__all__ = [
    "BATCH_SIZE",
    "CannotUndo",
    "Removal",
    "delete_papers",
    "undo_run",
    "IngestReport",
    "count_papers",
    "get_state",
    "ingest",
    "iter_export",
    "paper_id_for_arxiv",
    "paper_id_for_sighting",
    "partition_of",
    "set_state",
]
