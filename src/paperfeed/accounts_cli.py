"""`paperfeed submissions …`: fetch the arXiv papers users submitted (registered by cli.py).

A paper submitted by arXiv id waits in `submissions` (status 'pending') until
`paperfeed submissions fetch` asks the arXiv API for it, imports it through the
catalogue and marks the submission imported (or failed, with the reason).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from paperfeed import accounts, catalogue, ranking
from paperfeed.app import Paperfeed
from paperfeed.model import Record


def fetch_pending(pf: Paperfeed, client: Any, *, limit: int = 100) -> dict[str, int]:
    """Fetch and import pending arXiv submissions; return counts of imported and failed."""
    from paperfeed.sources import SourceUnavailable, arxiv

    with pf.db.transaction() as conn:
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
            catalogue.ingest(
                pf.db, found[:1], source=arxiv.SOURCE, origin=f"submission {sub['id']}"
            )
        with pf.db.transaction() as conn:
            paper_id = ranking.paper_id_for_arxiv(conn, wanted)
            if paper_id is None:
                accounts.finish_submission(conn, sub["id"], "failed", None, "not found on arXiv")
                counts["failed"] += 1
            else:
                accounts.finish_submission(conn, sub["id"], "imported", paper_id)
                counts["imported"] += 1
    return counts


def register(app: typer.Typer, open_app: Callable[..., Paperfeed]) -> None:
    """Add the `submissions` command group to the CLI."""
    group = typer.Typer(help="Papers users submitted on the web.", no_args_is_help=True)
    app.add_typer(group, name="submissions")

    @group.command("fetch")
    def fetch(limit: int = typer.Option(100, help="At most this many submissions.")) -> None:
        """Fetch pending arXiv submissions from arXiv and import them."""
        from paperfeed.sources.arxiv import ArxivClient

        with open_app() as pf:
            counts = fetch_pending(pf, ArxivClient(), limit=limit)
        typer.echo(f"imported={counts['imported']} failed={counts['failed']}")

    @group.command("list")
    def pending(limit: int = typer.Option(50, help="At most this many.")) -> None:
        """Show the submissions still waiting to be fetched."""
        with open_app() as pf, pf.db.transaction() as conn:
            rows = accounts.pending_submissions(conn, limit)
        for row in rows:
            typer.echo(f"{row['id']}\tarXiv:{row['arxiv_id']}\t{row['created_at']:%Y-%m-%d %H:%M}")
        typer.echo(f"{len(rows)} pending")
