"""`paperfeed db …` and `paperfeed config`: where the database is, its schema, the settings."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from paperfeed import catalogue
from paperfeed.cli.common import open_app
from paperfeed.config import Settings

db_app = typer.Typer(help="Database status and migrations.", no_args_is_help=True)


@db_app.command("status")
def db_status() -> None:
    """Show where the database is, its schema version and the latest imports."""
    from paperfeed.db import migrations

    with open_app(auto_migrate=False) as pf:
        settings = pf.settings
        where = (
            "embedded, in " + str(settings.home / "pgdata")
            if settings.uses_embedded_database
            else "external"
        )
        version = pf.db.schema_version()
        latest = len(migrations())
        typer.echo(f"database: {where}")
        typer.echo(
            f"schema version: {version} of {latest}"
            + ("" if version == latest else " (migration pending)")
        )
        typer.echo(f"papers: {catalogue.count_papers(pf.db) if version else 0}")
        if not version:
            return
        with pf.db.connection() as conn:
            runs = conn.execute(
                "SELECT id, source, origin, status, read, new, merged, rejected, started_at"
                " FROM ingest_runs ORDER BY id DESC LIMIT 10"
            ).fetchall()
        if runs:
            table = Table(
                "run", "source", "origin", "status", "read", "new", "merged", "rejected", "started"
            )
            for r in runs:
                table.add_row(
                    *(
                        str(r[k])
                        for k in (
                            "id",
                            "source",
                            "origin",
                            "status",
                            "read",
                            "new",
                            "merged",
                            "rejected",
                        )
                    ),
                    r["started_at"].strftime("%Y-%m-%d %H:%M"),
                )
            Console().print(table)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending schema migrations."""
    with open_app(auto_migrate=False) as pf:
        applied = pf.db.migrate()
        typer.echo("applied: " + ", ".join(applied) if applied else "schema is up to date")


def show_config() -> None:
    """Show every setting and its current value (secrets masked)."""
    table = Table("variable", "value", "meaning")
    for row in Settings.from_env().describe():
        table.add_row(*row)
    Console().print(table)
