"""`paperfeed submissions …` (fetch the arXiv papers users submitted) and
`paperfeed users …` (make an account an administrator, list accounts).

The work itself is `catalogue.submissions.fetch_pending`, which the scheduler
runs too, and `catalogue.admin`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from paperfeed.cli.common import command_group, fail

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
            counts = submissions.fetch_pending(
                pf.db, ArxivClient(), limit=limit, review_days=pf.settings.review_new_submissions
            )
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


def register_users(app: typer.Typer, open_app: Callable[..., Paperfeed]) -> None:
    """Add the `users` command group to the CLI."""
    group = command_group(help="Accounts and administrators.")
    app.add_typer(group, name="users")

    @group.command("promote")
    def promote(email: str = typer.Argument(..., help="The account's email address.")) -> None:
        """Make an account an administrator (the admin pages appear in its header)."""
        _set_admin(open_app, email, True)

    @group.command("demote")
    def demote(email: str = typer.Argument(..., help="The account's email address.")) -> None:
        """Take administrator rights away from an account."""
        _set_admin(open_app, email, False)

    @group.command("list")
    def list_users(limit: int = typer.Option(50, help="At most this many, newest first.")) -> None:
        """Show the newest accounts."""
        from paperfeed.catalogue import admin

        with open_app() as pf, pf.db.transaction() as conn:
            rows = admin.users(conn, limit)
        for row in rows:
            flag = "admin" if row["is_admin"] else ""
            typer.echo(f"{row['id']}\t{row['email']}\t{row['created_at']:%Y-%m-%d}\t{flag}")


def _set_admin(open_app: Callable[..., Paperfeed], email: str, flag: bool) -> None:
    from paperfeed.catalogue import accounts, admin

    try:
        with open_app() as pf, pf.db.transaction() as conn:
            user_id = admin.set_admin(conn, email, flag)
    except accounts.AccountError as exc:
        fail(str(exc))
    typer.echo(f"user {user_id} ({email}) is {'now' if flag else 'no longer'} an administrator")
