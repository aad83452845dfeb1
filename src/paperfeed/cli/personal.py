"""The personal layer's commands: `paperfeed topics build|assign|list` and `paperfeed library …`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from paperfeed.cli.common import command_group

if TYPE_CHECKING:
    from paperfeed.app import Paperfeed


def _user_id(pf: Paperfeed, email: str) -> int:
    with pf.db.connection() as conn:
        row = conn.execute(
            "SELECT id FROM users WHERE lower(email) = lower(%s)", (email.strip(),)
        ).fetchone()
    if row is None:
        typer.echo(f"error: no user with email {email}", err=True)
        raise typer.Exit(2)
    return row["id"]


def register(app: typer.Typer, open_app: Callable[..., Paperfeed]) -> None:
    """Add the `topics` and `library` command groups to the CLI."""
    topics_app = command_group(help="The topic map: cluster the catalogue, place new papers.")
    library_app = command_group(help="A user's library: import and export BibTeX/CSV.")
    app.add_typer(topics_app, name="topics")
    app.add_typer(library_app, name="library")

    @topics_app.command("build")
    def topics_build(
        k: int = typer.Option(0, help="Number of topics (0: about sqrt(papers/2), at most 60)."),
        sample: int = typer.Option(50_000, help="Papers sampled for clustering and labels."),
    ) -> None:
        """Re-cluster the catalogue into a new topic map (replaces the old one)."""
        from paperfeed.ranking import topics

        with open_app() as pf:
            started = time.perf_counter()
            topics.build(pf.db, k or None, sample=sample)
            with pf.db.connection() as conn:
                found = topics.list_topics(conn)
            for t in found:
                typer.echo(f"{t.id:>6}  {t.papers:>7}  {t.label}")
            typer.echo(
                f"topics={len(found)} papers={sum(t.papers for t in found)} "
                f"seconds={time.perf_counter() - started:.1f}"
            )

    @topics_app.command("assign")
    def topics_assign() -> None:
        """Give papers embedded since the last build their nearest topic (no re-clustering)."""
        from paperfeed.ranking import topics

        with open_app() as pf:
            typer.echo(f"assigned={topics.assign_new(pf.db)}")

    @library_app.command("import")
    def library_import(
        email: str = typer.Argument(..., help="The user whose library receives the papers."),
        file: Path = typer.Argument(..., help="A .bib file (BibTeX or a Zotero export)."),
    ) -> None:
        """Save every entry of a BibTeX file found in the catalogue; list the rest."""
        from paperfeed.catalogue import library_io

        with open_app() as pf:
            user_id = _user_id(pf, email)
            with pf.db.transaction() as conn:
                report = library_io.import_bibtex(conn, user_id, file.read_bytes(), file.name)
        for u in report.unmatched:
            typer.echo(f"not in catalogue: {u['position']}: {u['title']}", err=True)
        for r in report.rejected:
            typer.echo(f"unreadable: {r['position']}: {r['reason']}", err=True)
        typer.echo(
            f"read={report.read} matched={report.matched} "
            f"unmatched={report.unmatched_count} rejected={report.rejected_count}"
        )

    @library_app.command("export")
    def library_export(
        email: str = typer.Argument(..., help="The user whose library to export."),
        fmt: str = typer.Option("bib", "--format", help="bib or csv."),
    ) -> None:
        """Print a user's library as BibTeX or CSV."""
        from paperfeed.catalogue import library, library_io

        if fmt not in ("bib", "csv"):
            raise typer.BadParameter("--format is bib or csv")
        with open_app() as pf:
            user_id = _user_id(pf, email)
            with pf.db.transaction() as conn:
                items = library.items(conn, user_id, limit=None)
        typer.echo(
            library_io.to_bibtex(items) if fmt == "bib" else library_io.to_csv(items), nl=False
        )
