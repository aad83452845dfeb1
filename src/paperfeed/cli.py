"""The `paperfeed` command line: serve, ingest, export and database chores.

Each command builds one `Paperfeed` from the environment (plus flags), does
its work through the catalogue/search/delivery modules and prints a summary.
Long work shows a Rich progress bar on the terminal.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from paperfeed import catalogue
from paperfeed.app import Paperfeed
from paperfeed.config import Settings
from paperfeed.model import Item

app = typer.Typer(help="paperfeed: self-hosted research-paper discovery.", no_args_is_help=True)
ingest_app = typer.Typer(
    help="Import papers from a source into the catalogue.", no_args_is_help=True
)
export_app = typer.Typer(help="Export the catalogue.", no_args_is_help=True)
db_app = typer.Typer(help="Database status and migrations.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(export_app, name="export")
app.add_typer(db_app, name="db")

console = Console(stderr=True)


def open_app(**overrides: object) -> Paperfeed:
    """The paperfeed object for one command, from the environment plus overrides."""
    return Paperfeed(Settings.from_env(**overrides))


def progress_bar() -> Progress:
    """The progress bar every long command shows (hidden when not on a terminal)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    )


def _print_report(report: catalogue.IngestReport, papers_after: int, papers_before: int) -> None:
    table = Table(title=f"ingest {report.source}: {report.origin}", show_header=False)
    table.add_row("records read", str(report.read))
    table.add_row("new papers", str(report.new))
    table.add_row("merged into known papers", str(report.merged))
    table.add_row("rejected", str(report.rejected))
    table.add_row("papers in catalogue", f"{papers_after} (was {papers_before})")
    console.print(table)
    for bad in report.errors[:50]:
        console.print(
            f"[yellow]rejected[/] {bad.source} {bad.position}: {bad.reason}", highlight=False
        )
    if report.rejected > 50:
        console.print(f"… and {report.rejected - 50} more (see `paperfeed db status`)")
    # The one machine-readable summary line; tests and scripts read it.
    typer.echo(
        f"read={report.read} new={report.new} merged={report.merged} "
        f"rejected={report.rejected} papers={papers_after}"
    )


def run_ingest(
    source: str,
    origin: str,
    items: Iterable[Item],
    total: int | None = None,
    *,
    on_done: Callable[[Paperfeed, catalogue.IngestReport], None] | None = None,
) -> catalogue.IngestReport:
    """Feed one source's items to the catalogue with a progress bar and print the summary."""
    with open_app() as pf:
        before = catalogue.count_papers(pf.db)
        with progress_bar() as bar:
            task = bar.add_task(f"{source}", total=total)
            report = catalogue.ingest(
                pf.db,
                items,
                source=source,
                origin=origin,
                progress=lambda n: bar.advance(task, n),
            )
        if on_done:
            on_done(pf, report)
        _print_report(report, catalogue.count_papers(pf.db), before)
    return report


def _read_files(paths: list[Path]) -> Iterator[tuple[Path, bytes]]:
    for path in paths:
        try:
            yield path, path.read_bytes()
        except OSError as exc:
            console.print(f"[red]error[/] cannot read {path}: {exc.strerror}")
            raise typer.Exit(2) from exc


@ingest_app.command("listing")
def ingest_listing(
    files: list[Path] = typer.Argument(..., help="Listing pages (.txt) to import."),
    listing_year: int = typer.Option(
        date.today().year,
        help="Year the pages were captured; dates without a year are inferred from it.",
    ),
) -> None:
    """Import plain-text Daily Papers listing pages."""
    from paperfeed.sources import listing

    items: list[Item] = []
    for path, data in _read_files(files):
        items.extend(listing.parse(data, str(path), listing_year))
    origin = files[0].name if len(files) == 1 else f"{len(files)} files"
    run_ingest(listing.SOURCE, origin, items, total=len(items))


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


@ingest_app.command("jsonl")
def ingest_jsonl(
    files: list[Path] = typer.Argument(
        ..., help="JSONL files: a paperfeed export or plain papers."
    ),
) -> None:
    """Import JSONL: paperfeed's own export (restores every sighting) or one paper per line."""
    from paperfeed.sources import jsonl

    for path in files:
        if not path.is_file():
            console.print(f"[red]error[/] cannot read {path}: no such file")
            raise typer.Exit(2)
        run_ingest(jsonl.SOURCE, path.name, jsonl.read(path), total=_count_lines(path))


@ingest_app.command("bibtex")
def ingest_bibtex(
    files: list[Path] = typer.Argument(..., help="BibTeX (.bib) files, e.g. a Zotero export."),
) -> None:
    """Import papers from BibTeX files."""
    from paperfeed.sources import bibtex

    # bibtexparser logs every parse error itself; ours are reported with positions.
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    for path, data in _read_files(files):
        run_ingest(bibtex.SOURCE, path.name, list(bibtex.parse(data, path.name)))


def _unavailable(exc: Exception) -> typer.Exit:
    console.print(f"[red]error[/] source unavailable: {exc}", highlight=False)
    return typer.Exit(3)


@ingest_app.command("arxiv")
def ingest_arxiv(
    set_spec: str | None = typer.Option(None, "--set", help="OAI-PMH set to harvest, e.g. cs."),
    since: str | None = typer.Option(
        None, help="Harvest from this date (YYYY-MM-DD); default: where the last run ended."
    ),
    query: str | None = typer.Option(None, help="Atom API search query instead of a harvest."),
    max_results: int = typer.Option(100, help="With --query: how many results to fetch."),
) -> None:
    """Import from arXiv: an OAI-PMH harvest (incremental) or an Atom API search."""
    from paperfeed.sources import SourceUnavailable, arxiv

    client = arxiv.ArxivClient()
    if query:
        try:
            run_ingest(arxiv.SOURCE, f"query {query}", client.search(query, max_results))
        except SourceUnavailable as exc:
            raise _unavailable(exc) from exc
        return
    state_key = f"harvest:{set_spec or 'all'}"
    with open_app() as pf:
        start = date.fromisoformat(since) if since else None
        if start is None and (last := catalogue.get_state(pf.db, arxiv.SOURCE, state_key)):
            start = date.fromisoformat(last)

    def remember(pf: Paperfeed, report: catalogue.IngestReport) -> None:
        # Advance only after a complete harvest: a failed one repeats from the old date.
        if client.response_date is not None:
            catalogue.set_state(
                pf.db, arxiv.SOURCE, state_key, client.response_date.date().isoformat()
            )

    origin = f"oai set={set_spec or 'all'} from={start or 'beginning'}"
    try:
        run_ingest(arxiv.SOURCE, origin, client.harvest(set_spec, start), on_done=remember)
    except SourceUnavailable as exc:
        raise _unavailable(exc) from exc


@ingest_app.command("hf-daily")
def ingest_hf_daily(
    day: str | None = typer.Option(
        None, "--date", help="Day to fetch (YYYY-MM-DD); default today."
    ),
    file: Path | None = typer.Option(
        None, help="Import a saved /api/daily_papers response instead."
    ),
) -> None:
    """Import the Hugging Face daily papers of one day."""
    from paperfeed.sources import SourceUnavailable, hf_daily

    if file is not None:
        for path, data in _read_files([file]):
            run_ingest(hf_daily.SOURCE, path.name, list(hf_daily.parse(data, path.name)))
        return
    when = date.fromisoformat(day) if day else date.today()
    try:
        items = list(hf_daily.fetch(when))
    except SourceUnavailable as exc:
        raise _unavailable(exc) from exc
    run_ingest(hf_daily.SOURCE, f"daily {when.isoformat()}", items, total=len(items))


@export_app.command("jsonl")
def export_jsonl(
    output: Path | None = typer.Option(
        None, "-o", "--output", help="File to write (default: stdout)."
    ),
) -> None:
    """Export every paper with all its sightings, one JSON object per line (lossless)."""
    from paperfeed.sources import jsonl

    with open_app() as pf:
        total = catalogue.count_papers(pf.db)
        out = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            with progress_bar() as bar:
                task = bar.add_task("export", total=total)
                for paper_id, paper, sources in catalogue.iter_export(pf.db):
                    out.write(jsonl.dump_paper(paper, paper_id, sources) + "\n")
                    bar.advance(task)
        finally:
            if output:
                out.close()
    console.print(f"exported {total} papers" + (f" to {output}" if output else ""))


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


@app.command("config")
def show_config() -> None:
    """Show every setting and its current value (secrets masked)."""
    table = Table("variable", "value", "meaning")
    for row in Settings.from_env().describe():
        table.add_row(*row)
    Console().print(table)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, help="Web worker processes."),
) -> None:
    """Run the web app (and the scheduler) on the embedded or configured database."""
    import uvicorn

    # Start the database and migrate once, before workers fork and race for it.
    with open_app() as pf:
        pf.db.check_schema()
        _ = pf.secret_key
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if pf.settings.scheduler:
        # One scheduler per `serve` (not per web worker); see docs/delivery.md.
        from paperfeed import scheduler

        scheduler.start_in_background(open_app())
    uvicorn.run(
        "paperfeed.web:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The app writes its own access log line (with the request id): see web/middleware.py.
        access_log=False,
    )


digest_app = typer.Typer(help="Email digests: preview and send.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")


def _parse_now(value: str | None):
    """--now for the digest commands: an ISO 8601 moment (UTC unless it says), default now."""
    from datetime import UTC, datetime

    if not value:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@digest_app.command("preview")
def digest_preview(
    subscription: int = typer.Option(..., "--subscription", help="Subscription id."),
    out: Path | None = typer.Option(None, help="Write the whole email (.eml) here."),
    html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
    now: str | None = typer.Option(None, help="Pretend it is this time (ISO 8601, UTC default)."),
) -> None:
    """Show the digest a subscription would get for its current period (sends nothing)."""
    from paperfeed import digest
    from paperfeed.delivery.mailer import message_bytes

    with open_app() as pf:
        try:
            msg = digest.preview(pf, subscription, now=_parse_now(now))
        except LookupError as exc:
            console.print(f"[red]error[/] {exc}")
            raise typer.Exit(2) from exc
    if out:
        out.write_bytes(message_bytes(msg))
        console.print(f"wrote {out}")
        return
    body = msg.get_body(("html",) if html else ("plain",))
    typer.echo(f"Subject: {msg['Subject']}\nTo: {msg['To']}\nMessage-ID: {msg['Message-ID']}\n")
    typer.echo(body.get_content() if body else "")


@digest_app.command("send")
def digest_send(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what is due; send nothing."),
    now: str | None = typer.Option(None, help="Pretend it is this time (ISO 8601, UTC default)."),
) -> None:
    """Queue every due digest in the outbox, then send the outbox (crash-safe; rerun freely)."""
    from paperfeed import digest

    with open_app() as pf:
        report = digest.run(pf, now=_parse_now(now), dry_run=dry_run)
        q = report.queued
        if dry_run:
            for item in q.planned:
                typer.echo(
                    f"would queue #{item.sub.id} {item.sub.email} {item.period.key}: "
                    f"{len(item.papers)} papers"
                )
            typer.echo(f"due={q.due} groups={q.groups}")
            return
        s = report.sent
        for line in s.errors[:20]:
            console.print(f"[yellow]failed[/] {line}", highlight=False)
        typer.echo(
            f"due={q.due} queued={q.queued} empty={q.empty} sent={s.sent} "
            f"retried={s.retried} failed={s.failed} cancelled={s.cancelled} "
            f"uncertain={s.uncertain}"
        )


@app.command("worker")
def worker(
    once: bool = typer.Option(False, "--once", help="Run the due jobs once and exit (for cron)."),
) -> None:
    """Run the scheduler alone: ingestion at PAPERFEED_INGEST_HOURS and the digest runs."""
    import signal

    from paperfeed import scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with open_app() as pf:
        sched = scheduler.Scheduler(pf, scheduler.default_jobs(pf))
        if once:
            for future in sched.tick():
                typer.echo(future.result())
            return
        signal.signal(signal.SIGTERM, lambda *_: sched.stop())
        try:
            sched.run_forever()
        except KeyboardInterrupt:
            sched.stop()


# Search commands: `paperfeed embed` and `paperfeed search` (see search_cli.py).
from paperfeed import search_cli  # noqa: E402

search_cli.register(app, open_app, progress_bar, console)

# Personal layer: `paperfeed topics …` and `paperfeed library …` (see personal_cli.py).
from paperfeed import personal_cli  # noqa: E402

personal_cli.register(app, open_app)

# Web submissions: `paperfeed submissions fetch|list` (see accounts_cli.py).
from paperfeed import accounts_cli  # noqa: E402

accounts_cli.register(app, open_app)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
