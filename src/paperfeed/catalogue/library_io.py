"""Library export (BibTeX, CSV) and import (a BibTeX or Zotero export).

Export works on any list of papers (the library, a folder, a search page), as
the dicts `library.items` and `library.papers_by_ids` return. Import parses the
file with `sources.bibtex` (the one BibTeX parser), matches each entry to a
catalogue paper by arXiv id, then DOI, then normalised title, saves the matches
(keeping the file's keywords as tags) and reports the entries it could not
match or could not read. Unmatched entries are reported, not added to the
catalogue: a personal file is not a source of truth for everyone's catalogue.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from paperfeed.catalogue import citation, library
from paperfeed.model import BadRecord, Record
from paperfeed.sources import bibtex

MAX_IMPORT_BYTES = 20 * 1024 * 1024
# How many unmatched/rejected entries an import keeps verbatim (counts are complete).
KEPT = 200
# A CSV cell starting with one of these is a formula in a spreadsheet.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ImportReport:
    """What an import read, saved, could not match and could not read."""

    read: int = 0
    matched: int = 0
    already_saved: int = 0
    unmatched: list[dict[str, str]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    unmatched_count: int = 0
    rejected_count: int = 0
    import_id: int | None = None


def to_bibtex(papers: list[dict[str, Any]]) -> str:
    """BibTeX entries (@article with arXiv eprint fields) for a list of papers (citation.py)."""
    return citation.to_bibtex(papers, entry_type="article")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


CSV_COLUMNS = (
    "title",
    "authors",
    "published_on",
    "arxiv_id",
    "doi",
    "url",
    "tags",
    "folders",
    "note",
    "saved_at",
    "upvotes",
)


def to_csv(papers: list[dict[str, Any]]) -> str:
    """CSV with a header row; cells that a spreadsheet would run as formulas are quoted."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for p in papers:
        url = f"https://arxiv.org/abs/{p['arxiv_id']}" if p.get("arxiv_id") else ""
        writer.writerow(
            _cell(v)
            for v in (
                p["title"],
                "; ".join(p.get("authors") or []),
                p.get("published_on") or "",
                p.get("arxiv_id") or "",
                p.get("doi") or "",
                url,
                "; ".join(p.get("tags") or []),
                "; ".join(p.get("folders") or []),
                p.get("note") or "",
                p["saved_at"].isoformat() if p.get("saved_at") else "",
                p.get("upvotes", ""),
            )
        )
    return out.getvalue()


def _match(conn: psycopg.Connection, records: list[Record]) -> dict[str, int]:
    """Record external key → catalogue paper id, by arXiv id, then DOI, then title."""
    arxiv = [r.paper.arxiv_id for r in records if r.paper.arxiv_id]
    dois = [r.paper.doi.lower() for r in records if r.paper.doi]
    titles = [r.paper.normalised_title for r in records]
    rows = conn.execute(
        "SELECT id, arxiv_id, lower(doi) AS doi, norm_title FROM papers"
        " WHERE arxiv_id = ANY(%s) OR lower(doi) = ANY(%s) OR norm_title = ANY(%s) ORDER BY id",
        (arxiv, dois, titles),
    ).fetchall()
    by_arxiv = {r["arxiv_id"]: r["id"] for r in rows if r["arxiv_id"]}
    by_doi: dict[str, int] = {}
    by_title: dict[str, int] = {}
    for r in rows:
        if r["doi"]:
            by_doi.setdefault(r["doi"], r["id"])
        by_title.setdefault(r["norm_title"], r["id"])
    found = {}
    for r in records:
        paper = r.paper
        pid = (
            (paper.arxiv_id and by_arxiv.get(paper.arxiv_id))
            or (paper.doi and by_doi.get(paper.doi.lower()))
            or by_title.get(paper.normalised_title)
        )
        if pid:
            found[r.external_key] = pid
    return found


def _keywords(record: Record) -> list[str]:
    raw = record.raw.get("fields", {}) if isinstance(record.raw, dict) else {}
    value = str(raw.get("keywords", ""))[:2_000]
    tags = [t.strip() for t in re.split(r"[,;]", value) if t.strip()]
    return [t for t in tags if len(t) <= library.MAX_TAG_LENGTH][: library.MAX_TAGS]


class ParseStopped(Exception):
    """`read_bibtex` gave up because its caller said stop (a time budget ran out)."""


@dataclass
class ParsedFile:
    """A BibTeX file read into records, before anything is written."""

    records: list[Record] = field(default_factory=list)
    report: ImportReport = field(default_factory=ImportReport)


def read_bibtex(
    data: bytes, filename: str = "library.bib", stop: Callable[[], bool] | None = None
) -> ParsedFile:
    """Parse a BibTeX upload without touching the database (the CPU-heavy half of an import).

    `stop` is asked after every entry; when it answers True the parse ends
    with ParseStopped, so a caller with a time budget stops the CPU work too,
    not only its wait for it.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise library.LibraryError(f"file larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")
    parsed = ParsedFile()
    report = parsed.report
    for item in bibtex.parse(data, filename[:200] or "library.bib"):
        if stop is not None and stop():
            raise ParseStopped(filename)
        report.read += 1
        if isinstance(item, BadRecord):
            report.rejected_count += 1
            if len(report.rejected) < KEPT:
                report.rejected.append({"position": item.position, "reason": item.reason[:300]})
        else:
            parsed.records.append(item)
    return parsed


def import_bibtex(
    conn: psycopg.Connection, user_id: int, data: bytes, filename: str = "library.bib"
) -> ImportReport:
    """Save every entry of a BibTeX file that matches a catalogue paper; report the rest."""
    return save_import(conn, user_id, read_bibtex(data, filename), filename)


def save_import(
    conn: psycopg.Connection, user_id: int, parsed: ParsedFile, filename: str = "library.bib"
) -> ImportReport:
    """Save a parsed file's entries that match catalogue papers; record and return the report."""
    records, report = parsed.records, parsed.report
    matches = _match(conn, records)
    for record in records:
        pid = matches.get(record.external_key)
        if pid is None:
            report.unmatched_count += 1
            if len(report.unmatched) < KEPT:
                report.unmatched.append(
                    {"position": record.position, "title": record.paper.title[:300]}
                )
            continue
        report.matched += 1
        if not library.save(conn, user_id, pid, origin="import"):
            report.already_saved += 1
        tags = _keywords(record)
        if tags:
            current = conn.execute(
                "SELECT tags FROM library_items WHERE user_id = %s AND paper_id = %s",
                (user_id, pid),
            ).fetchone()["tags"]
            library.set_tags(conn, user_id, pid, (list(current) + tags)[: library.MAX_TAGS])
    row = conn.execute(
        "INSERT INTO library_imports (user_id, filename, read, matched, unmatched, rejected,"
        " report) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            user_id,
            filename[:200],
            report.read,
            report.matched,
            report.unmatched_count,
            report.rejected_count,
            json.dumps({"unmatched": report.unmatched, "rejected": report.rejected}),
        ),
    ).fetchone()
    report.import_id = row["id"]
    return report
