"""`paperfeed links …`: the community layer's upkeep commands.

- `paperfeed links sync`: derive authors, links and imported summaries of queued
  papers (imports do it themselves; this catches up an upgraded database).
- `paperfeed links stars`: fetch GitHub stars of code links when the network
  reaches GitHub; offline it does nothing and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from paperfeed.cli.common import command_group

if TYPE_CHECKING:
    from paperfeed.app import Paperfeed


def register(app: typer.Typer, open_app: Callable[..., Paperfeed]) -> None:
    """Add the `links` command group to the CLI."""
    group = command_group(help="Authors, links and GitHub stars of papers.")
    app.add_typer(group, name="links")

    @group.command("sync")
    def sync() -> None:
        """Derive the author rows, links and imported summaries of every queued paper."""
        from paperfeed.catalogue import derive

        with open_app() as pf:
            done = derive.sync(pf.db)
        typer.echo(f"derived={done}")

    @group.command("stars")
    def stars(limit: int = typer.Option(50, help="At most this many repositories.")) -> None:
        """Fetch GitHub stars of code links not checked for a week (needs the network)."""
        from paperfeed.catalogue import stars as github_stars

        with open_app() as pf:
            report = github_stars.refresh(pf.db, limit=limit)
        typer.echo(f"checked={report.checked} updated={report.updated}")
        if report.message:
            typer.echo(report.message)
