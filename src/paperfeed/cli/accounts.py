"""`paperfeed submissions …`: fetch the arXiv papers users submitted.

The work itself is `catalogue.submissions.fetch_pending`, which the scheduler
runs too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from paperfeed.cli.common import command_group

if TYPE_CHECKING:
    from paperfeed.app import Paperfeed


def register(app: typer.Typer, open_app: Callable[..., Paperfeed]) -> None:
    """Add the `submissions` command group to the CLI."""
    group = command_group(help="Papers users submitted on the web.")
    app.add_typer(group, name="submissions")

    @group.command("fetch")
    def fetch(limit: int = typer.Option(100, help="At most this many submissions.")) -> None:
        """Fetch pending arXiv submissions from arXiv and import them."""
        from paperfeed.catalogue import submissions
        from paperfeed.sources.arxiv import ArxivClient

        with open_app() as pf:
            counts = submissions.fetch_pending(pf.db, ArxivClient(), limit=limit)
        typer.echo(f"imported={counts['imported']} failed={counts['failed']}")

    @group.command("list")
    def pending(limit: int = typer.Option(50, help="At most this many.")) -> None:
        """Show the submissions still waiting to be fetched."""
        from paperfeed.catalogue import accounts

        with open_app() as pf, pf.db.transaction() as conn:
            rows = accounts.pending_submissions(conn, limit)
        for row in rows:
            typer.echo(f"{row['id']}\tarXiv:{row['arxiv_id']}\t{row['created_at']:%Y-%m-%d %H:%M}")
        typer.echo(f"{len(rows)} pending")
