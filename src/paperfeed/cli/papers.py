"""`paperfeed papers …`: chores on single papers (deleting them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from paperfeed.cli.common import command_group, console, open_app

if TYPE_CHECKING:
    from paperfeed.catalogue import Removal

papers_app = command_group(help="Single papers: delete.")

INCLUDING_USED = typer.Option(
    False,
    "--including-used",
    help="Also remove papers users voted for, saved or commented on (with those).",
)


def print_removal(removal: Removal) -> None:
    """The summary of a delete or undo, ending with one machine-readable line."""
    if removal.kept:
        ids = ", ".join(map(str, removal.kept[:20])) + (" …" if len(removal.kept) > 20 else "")
        console.print(
            f"[yellow]kept[/] {len(removal.kept)} papers that users voted for, saved or"
            " commented on"
            f" ({ids}); --including-used removes them too"
        )
    if removal.missing:
        console.print(f"[yellow]no such paper[/] {', '.join(map(str, removal.missing))}")
    if removal.unrestored:
        ids = ", ".join(map(str, removal.unrestored[:20]))
        console.print(
            f"[yellow]kept the fields of[/] {len(removal.unrestored)} papers the run merged"
            f" into, changed or seen by another import since ({ids})"
        )
    typer.echo(
        f"papers={removal.papers} sightings={removal.sightings} kept={len(removal.kept)}"
        f" votes={removal.votes} saved={removal.saved} comments={removal.comments}"
        f" restored={removal.restored} unrestored={len(removal.unrestored)}"
    )


@papers_app.command("delete")
def papers_delete(
    ids: list[int] = typer.Argument(..., help="Paper ids (as in /paper/ID and `search`)."),
    including_used: bool = INCLUDING_USED,
) -> None:
    """Delete papers with all their sightings, in one transaction."""
    from paperfeed import catalogue

    with open_app() as pf:
        removal = catalogue.delete_papers(pf.db, ids, including_used=including_used)
    print_removal(removal)
    if removal.missing and not removal.papers:
        raise typer.Exit(1)
