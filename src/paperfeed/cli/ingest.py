"""`paperfeed ingest …` and `paperfeed export …`: sources into the catalogue, and back out.

Each import reads its files (or a live source), feeds the records to
`catalogue.ingest` with a progress bar and prints the summary, ending with one
machine-readable `read=… new=… merged=… rejected=… papers=…` line.

Refusing what isn't papers: before anything is written, the first SAMPLE records
are validated; when most of them are rejected (a README fed to `ingest jsonl`, the
wrong file altogether) the import stops with exit code 1 unless `--force`. An import
that read nothing, or whose every record was rejected, also exits 1.

Size: one short verb per source over shared reading, refusal and report code; splitting
it by source would scatter that shared code.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
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

# How many records are validated before writing to decide whether the input is papers.
SAMPLE = 1_000
# Refuse (without --force) when more than this share of the sample is rejected.
REFUSE_SHARE = 0.5
FORCE = typer.Option(
    False, "--force", help="Import even when most records are rejected (not papers?)."
)


def _shown(text: str) -> str:
    """`text` safe to print and store (see model.printable), imported only when needed."""
    from paperfeed.model import printable

    return printable(text)


class _Refused(Exception):
    """The input does not look like papers; nothing was written."""


def _guarded(items: Iterable[Item], force: bool) -> Iterator[Item]:
    """`items`, unless the first SAMPLE of them are mostly rejected (then _Refused).

    The check runs before the first record reaches the catalogue, so a refused
    import writes nothing (not even its ingest run).
    """
    from paperfeed.model import BadRecord, checked

    iterator = iter(items)
    head = list(itertools.islice(iterator, SAMPLE))
    if not force and head:
        bad = [item for item in checked(head) if isinstance(item, BadRecord)]
        if len(bad) > REFUSE_SHARE * len(head):
            reasons = "; ".join(dict.fromkeys(b.reason[:120] for b in bad[:50]))
            raise _Refused(
                f"{len(bad)} of the first {len(head)} records are rejected — this does not"
                f" look like papers, so nothing was imported (--force imports the rest"
                f" anyway). Reasons: {reasons}"
            )
    return itertools.chain(head, iterator)


def _print_report(report: catalogue.IngestReport, papers_after: int, papers_before: int) -> None:
    from rich.table import Table

    table = Table(title=f"ingest {report.source}: {report.origin}", show_header=False)
    table.add_row("records read", str(report.read))
    table.add_row("new papers", str(report.new))
    table.add_row("merged into known papers", str(report.merged))
    table.add_row("rejected", str(report.rejected))
    table.add_row("run", f"{report.run_id} (undo: paperfeed ingest undo {report.run_id})")
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
    force: bool = False,
    empty_ok: bool = False,
) -> catalogue.IngestReport:
    """Feed one source's items to the catalogue with a progress bar and print the summary.

    Exits 1 when the input is refused (see the module docstring), read nothing, or
    had every record rejected; the summary is printed first in the last two cases.
    `empty_ok`: reading nothing is normal (a live source on a quiet day).
    """
    from paperfeed import catalogue

    try:
        items = _guarded(items, force)
    except _Refused as exc:
        console.print(f"[red]refused[/] {_shown(origin)}: {exc}", highlight=False)
        raise typer.Exit(1) from None
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
    if report.read == 0 and not empty_ok:
        console.print(f"[red]error[/] {_shown(origin)}: no records found (is it a {source} file?)")
        raise typer.Exit(1)
    if report.read and report.rejected == report.read:
        console.print(f"[red]error[/] {_shown(origin)}: every record was rejected")
        raise typer.Exit(1)
    return report


def _read_files(paths: list[Path]) -> Iterator[tuple[Path, bytes]]:
    """Each file's bytes (gzip is inflated); an unreadable file ends the command (exit 2)."""
    from paperfeed.sources import files

    for path in paths:
        try:
            yield path, files.read_bytes(path)
        except (OSError, EOFError, files.TooLarge) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            console.print(f"[red]error[/] cannot read {_shown(str(path))}: {reason}")
            raise typer.Exit(2) from exc


@ingest_app.command("listing")
def ingest_listing(
    files: list[Path] = typer.Argument(..., help="Listing pages (.txt) to import."),
    listing_year: int = typer.Option(
        date.today().year,
        help="Year the pages were captured; dates without a year are inferred from it.",
    ),
    force: bool = FORCE,
) -> None:
    """Import plain-text Daily Papers listing pages."""
    from paperfeed.sources import listing

    items: list[Item] = []
    for path, data in _read_files(files):
        items.extend(listing.parse(data, str(path), listing_year))
    origin = files[0].name if len(files) == 1 else f"{len(files)} files"
    run_ingest(listing.SOURCE, origin, items, total=len(items), force=force)


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


@ingest_app.command("jsonl")
def ingest_jsonl(
    files: list[Path] = typer.Argument(
        ..., help="JSONL files: a paperfeed export or plain papers."
    ),
    force: bool = FORCE,
) -> None:
    """Import JSONL: paperfeed's own export (restores every sighting) or one paper per line."""
    from paperfeed.sources import jsonl

    for path in files:
        if not path.is_file():
            console.print(f"[red]error[/] cannot read {path}: no such file")
            raise typer.Exit(2)
        run_ingest(jsonl.SOURCE, path.name, jsonl.read(path), total=_count_lines(path), force=force)


@ingest_app.command("bibtex")
def ingest_bibtex(
    files: list[Path] = typer.Argument(..., help="BibTeX (.bib) files, e.g. a Zotero export."),
    force: bool = FORCE,
) -> None:
    """Import papers from BibTeX files."""
    from paperfeed.sources import bibtex

    # bibtexparser logs every parse error itself; ours are reported with positions.
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    for path in files:
        if not path.is_file():
            console.print(f"[red]error[/] cannot read {_shown(str(path))}: no such file")
            raise typer.Exit(2)
        # Streamed entry by entry: a 100 MB .bib is never held whole.
        run_ingest(bibtex.SOURCE, path.name, bibtex.read(path, origin=path.name), force=force)


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
            run_ingest(
                arxiv.SOURCE, f"query {query}", client.search(query, max_results), empty_ok=True
            )
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
        run_ingest(
            arxiv.SOURCE, origin, client.harvest(set_spec, start), on_done=remember, empty_ok=True
        )
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
    force: bool = FORCE,
) -> None:
    """Import the Hugging Face daily papers of one day."""
    from paperfeed.sources import SourceUnavailable, hf_daily

    if file is not None:
        for path, data in _read_files([file]):
            run_ingest(
                hf_daily.SOURCE, path.name, list(hf_daily.parse(data, path.name)), force=force
            )
        return
    when = date.fromisoformat(day) if day else date.today()
    try:
        items = list(hf_daily.fetch(when))
    except SourceUnavailable as exc:
        raise _unavailable(exc) from exc
    run_ingest(hf_daily.SOURCE, f"daily {when.isoformat()}", items, total=len(items), empty_ok=True)


def _atom_items(path: Path, origin: str) -> list[Item]:
    """A saved arXiv API response: the XML, or a recording {url, status_code, body}."""
    import json

    from paperfeed.sources import files
    from paperfeed.sources.arxiv import atom

    data = files.read_bytes(path)
    if data.lstrip().startswith(b"{"):
        with suppress(ValueError, KeyError, TypeError, UnicodeEncodeError):
            # Recorders keep the body as the bytes decoded as Latin-1.
            data = json.loads(data)["body"].encode("latin-1")
    return atom.parse_atom(data, origin).items


def _oai_items(path: Path, origin: str) -> list[Item]:
    from paperfeed.sources import files
    from paperfeed.sources.arxiv import oai

    return oai.parse_oai(files.read_bytes(path), origin).items


def _readers() -> dict[str, tuple[str, Callable[[Path, str], Iterable[Item]]]]:
    """Every file format: its verb name → (source name, reader of one file)."""
    from paperfeed.sources import (
        bibtex,
        csl_json,
        files,
        hf_daily,
        jsonl,
        kaggle,
        listing,
        openalex,
        ris,
        semantic_scholar,
    )
    from paperfeed.sources.arxiv import SOURCE as ARXIV

    year = date.today().year
    return {
        "kaggle": (kaggle.SOURCE, lambda p, o: kaggle.read(p, origin=o)),
        "csl-json": (csl_json.SOURCE, lambda p, o: csl_json.read(p, origin=o)),
        "ris": (ris.SOURCE, lambda p, o: ris.read(p, origin=o)),
        "openalex": (openalex.SOURCE, lambda p, o: openalex.read(p, origin=o)),
        "semantic-scholar": (
            semantic_scholar.SOURCE,
            lambda p, o: semantic_scholar.read(p, origin=o),
        ),
        "jsonl": (jsonl.SOURCE, lambda p, o: jsonl.read(p, origin=o)),
        "bibtex": (bibtex.SOURCE, lambda p, o: bibtex.read(p, origin=o)),
        "hf-daily": (hf_daily.SOURCE, lambda p, o: list(hf_daily.parse(files.read_bytes(p), o))),
        "listing": (listing.SOURCE, lambda p, o: list(listing.parse(files.read_bytes(p), o, year))),
        "atom": (ARXIV, _atom_items),
        "oai": (ARXIV, _oai_items),
    }


def _import_files(verb: str, paths: list[Path], force: bool) -> None:
    """Import each file with the reader of `verb` (the verbs below share this)."""
    from paperfeed.sources import files

    source, reader = _readers()[verb]
    logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)
    for path in paths:
        if not path.is_file():
            console.print(f"[red]error[/] cannot read {_shown(str(path))}: no such file")
            raise typer.Exit(2)
        name = files.display_name(path)
        run_ingest(source, name, reader(path, name), force=force)


FILES = typer.Argument(..., help="Files to import (plain or gzip-compressed).")


@ingest_app.command("kaggle")
def ingest_kaggle(files: list[Path] = FILES, force: bool = FORCE) -> None:
    """Import the Kaggle arXiv metadata snapshot (.json or .json.gz, streamed)."""
    _import_files("kaggle", files, force)


@ingest_app.command("csl-json")
def ingest_csl_json(files: list[Path] = FILES, force: bool = FORCE) -> None:
    """Import CSL-JSON (Zotero, Mendeley, Pandoc exports)."""
    _import_files("csl-json", files, force)


@ingest_app.command("ris")
def ingest_ris(files: list[Path] = FILES, force: bool = FORCE) -> None:
    """Import RIS (EndNote, Zotero, Mendeley, publisher exports)."""
    _import_files("ris", files, force)


@ingest_app.command("openalex")
def ingest_openalex(files: list[Path] = FILES, force: bool = FORCE) -> None:
    """Import OpenAlex works: an API response, a list, or snapshot JSON Lines."""
    _import_files("openalex", files, force)


@ingest_app.command("semantic-scholar")
def ingest_semantic_scholar(files: list[Path] = FILES, force: bool = FORCE) -> None:
    """Import Semantic Scholar papers: API responses ({"data": [...]}) or dataset lines."""
    _import_files("semantic-scholar", files, force)


@ingest_app.command("atom")
def ingest_atom(files: list[Path] = FILES, force: bool = FORCE) -> None:
    """Import saved arXiv API (Atom) responses."""
    _import_files("atom", files, force)


@ingest_app.command("oai")
def ingest_oai(files: list[Path] = FILES, force: bool = FORCE) -> None:
    """Import saved arXiv OAI-PMH responses (ListRecords / GetRecord pages)."""
    _import_files("oai", files, force)


@ingest_app.command("auto")
def ingest_auto(files: list[Path] = FILES, force: bool = FORCE) -> None:
    """Detect each file's format, say which, and import it with that reader."""
    from paperfeed.sources import detect
    from paperfeed.sources import files as file_io

    for path in files:
        try:
            with file_io.open_binary(path) as handle:
                head = handle.read(detect.HEAD)
        except (OSError, EOFError) as exc:
            console.print(f"[red]error[/] cannot read {_shown(str(path))}: {exc}")
            raise typer.Exit(2) from exc
        verb = detect.detect(head)
        if verb is None:
            known = ", ".join(_readers())
            console.print(
                f"[red]error[/] {_shown(str(path))}: cannot tell its format (known: {known})"
            )
            raise typer.Exit(2)
        typer.echo(f"{path.name}: detected {verb}")
        _import_files(verb, [path], force)


@ingest_app.command("undo")
def ingest_undo(
    run_id: int = typer.Argument(..., help="The run (see `paperfeed db status`)."),
    including_used: bool = typer.Option(
        False, "--including-used", help="Also remove papers users voted for or saved."
    ),
) -> None:
    """Remove what one import added: its sightings, and papers no other run has seen."""
    from paperfeed import catalogue
    from paperfeed.cli.papers import print_removal

    with open_app() as pf:
        try:
            removal = catalogue.undo_run(pf.db, run_id, including_used=including_used)
        except catalogue.CannotUndo as exc:
            console.print(f"[red]error[/] {exc}")
            raise typer.Exit(1) from None
    print_removal(removal)


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
