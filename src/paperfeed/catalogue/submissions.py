"""Papers users submitted by arXiv id: fetch them from arXiv and import them.

A paper submitted by arXiv id waits in `submissions` (status 'pending') until
`fetch_pending` asks the arXiv API for it, imports it through the catalogue and
marks the submission imported (or failed, with the reason). The scheduler runs
it every hour; `paperfeed submissions fetch` runs it by hand.
"""

from __future__ import annotations

from typing import Any

from paperfeed.catalogue import accounts, moderation, papers
from paperfeed.db import Database
from paperfeed.model import Record


def fetch_pending(
    db: Database, client: Any, *, limit: int = 100, review_days: int = 0
) -> dict[str, int]:
    """Fetch and import pending arXiv submissions; return counts of imported and failed.

    A paper the submission brought in (not one already here) is held for an admin's
    review when the submitter's account is younger than `review_days` days
    (PAPERFEED_REVIEW_NEW_SUBMISSIONS; moderation.review_hold), in the transaction that
    creates it: a crash between the import and the bookkeeping leaves it held, and the
    submission pending for the next run.
    """
    from paperfeed.sources import SourceUnavailable, arxiv

    with db.transaction() as conn:
        pending = accounts.pending_submissions(conn, limit)
    counts = {"imported": 0, "failed": 0}
    for sub in pending:
        wanted = sub["arxiv_id"]
        try:
            found = [
                item
                for item in client.search(f"id:{wanted}", max_results=5)
                if isinstance(item, Record) and item.paper.arxiv_id == wanted
            ]
        except SourceUnavailable:
            continue  # arXiv is down: the submission stays pending for the next run
        if found:
            # Held in the transaction that creates the paper (see moderation.Hold).
            hold = None
            if sub["user_id"] is not None:
                with db.transaction() as conn:
                    hold = moderation.review_hold(conn, sub["user_id"], review_days)
            papers.ingest(
                db, found[:1], source=arxiv.SOURCE, origin=f"submission {sub['id']}", hold=hold
            )
        with db.transaction() as conn:
            paper_id = papers.paper_id_for_arxiv(conn, wanted)
            if paper_id is None:
                accounts.finish_submission(conn, sub["id"], "failed", None, "not found on arXiv")
                counts["failed"] += 1
            else:
                accounts.finish_submission(conn, sub["id"], "imported", paper_id)
                counts["imported"] += 1
    return counts
