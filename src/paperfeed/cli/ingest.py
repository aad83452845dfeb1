"""`paperfeed ingest …` and `paperfeed export …`: sources into the catalogue, and back out.

Each import reads its files (or a live source), feeds the records to
`catalogue.ingest` with a progress bar and prints the summary, ending with one
machine-readable `read=… new=… merged=… rejected=… papers=…` line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from paperfeed.cli.common import command_group, console, open_app, progress_bar

if TYPE_CHECKING:  # the catalogue pulls in the database driver: imported when a command runs
    from paperfeed import catalogue
    from paperfeed.app import Paperfeed
    from paperfeed.model import Item

ingest_app = command_group(help="Import papers from a source into the catalogue.")
export_app = command_group(help="Export the catalogue.")


def _print_report(report: catalogue.IngestReport, papers_after: int, papers_before: int) -> None:
    from rich.table import Table

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
    from paperfeed import catalogue

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
    from paperfeed import catalogue
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
    from paperfeed import catalogue
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
