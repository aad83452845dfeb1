"""paperfeed's own export format, one JSON object per line, in both directions.

An export line is one merged paper with every sighting of it:

    {"id": 17, "arxiv_id": "2401.01234", "doi": null, "title": "…", "abstract": "…",
     "authors": ["…"], "author_count": 3, "organization": null,
     "published_on": "2024-01-02", "listed_on": null, "github_url": null,
     "upvotes": 12, "categories": ["cs.CL"],
     "sources": [{"source": "arxiv", "external_key": "2401.01234",
                  "first_seen": "2024-01-03T08:00:00+00:00", "last_seen": "…",
                  "upvotes": 0, "raw": {…}}, …]}

Reading it back yields one Record per sighting: the merged fields, that sighting's own
upvote count, key, raw and first/last seen. Merging those Records rebuilds the
merged paper exactly (each field is the same in every Record; upvotes merge by max),
so an export re-imported into an empty catalogue reproduces it.

A line without "sources" (or with an empty list) is a plain paper: one Record with
source "jsonl" keyed by the paper's identity. Plain lines may also use common
foreign names: `summary` for the abstract, `published`/`publishedAt`/`date` for the
publication date, an arXiv-looking `id`, authors as one string or as {"name": …}.
Lines of the Kaggle arXiv snapshot (`versions`, `authors_parsed`) are read by
`sources.kaggle`, whatever verb imports them. Gzipped files are read transparently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from os import PathLike
from pathlib import Path
from typing import Any

from paperfeed.model import (
    DAY,
    MONTH,
    YEAR,
    BadRecord,
    Item,
    Paper,
    Record,
    clean_text,
    identity,
    normalise_arxiv_id,
    normalise_title,
)
from paperfeed.sources import kaggle
from paperfeed.sources.files import open_binary
from paperfeed.sources.jsonfields import load_line
from paperfeed.sources.text import split_author_list

SOURCE = "jsonl"

# The merged paper fields of an export line, in the order they are written (plus
# "published_precision" after published_on when the date is only a year or month).
PAPER_FIELDS = (
    "arxiv_id",
    "doi",
    "title",
    "abstract",
    "authors",
    "author_count",
    "organization",
    "published_on",
    "listed_on",
    "github_url",
    "upvotes",
    "categories",
)
_OPTIONAL_TEXT = ("arxiv_id", "doi", "organization", "github_url")
# Foreign spellings accepted on plain lines only, tried in order after our own name.
_ALIASES = {
    "abstract": ("summary",),
    "published_on": ("published", "publishedAt", "date"),
}


class _Invalid(ValueError):
    """A line that cannot become Records; the message is the BadRecord reason."""


# ---------------------------------------------------------------- export


def paper_to_dict(paper: Paper) -> dict[str, Any]:
    """The JSON-ready merged fields of a paper, in export order.

    `published_precision` is written only when the date is less than a day ("year",
    "month"), so exports of exact dates stay as they were before it existed.
    """
    fields = {
        "arxiv_id": paper.arxiv_id,
        "doi": paper.doi,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "author_count": paper.author_count,
        "organization": paper.organization,
        "published_on": paper.published_on.isoformat() if paper.published_on else None,
        "published_precision": paper.published_precision,
        "listed_on": paper.listed_on.isoformat() if paper.listed_on else None,
        "github_url": paper.github_url,
        "upvotes": paper.upvotes,
        "categories": list(paper.categories),
    }
    if paper.published_precision == DAY:
        del fields["published_precision"]
    return fields


def dump_paper(
    paper: Paper, paper_id: int | None = None, sources: Sequence[Mapping[str, Any]] = ()
) -> str:
    """One export line (no newline) for a merged paper and its sightings.

    Each source is a mapping with "source", "external_key", "first_seen" and
    "last_seen" (datetime, ISO string or None), "upvotes" (int) and "raw" (a
    JSON-ready dict) — e.g. a paper_sources row as a dict.
    """
    line: dict[str, Any] = {"id": paper_id, **paper_to_dict(paper)}
    line["sources"] = [
        {
            "source": s["source"],
            "external_key": s["external_key"],
            "first_seen": _iso(s.get("first_seen")),
            "last_seen": _iso(s.get("last_seen")),
            "upvotes": s.get("upvotes", 0),
            "raw": s.get("raw") or {},
        }
        for s in sources
    ]
    # Non-ASCII stays readable (and greppable); json escapes \n and friends, so a
    # line never breaks. U+2028/U+2029 stay raw, which is why reading splits on b"\n".
    return json.dumps(line, ensure_ascii=False)


def record_source(record: Record) -> dict[str, Any]:
    """The export "sources" entry of one Record (for exporting straight from a source)."""
    return {
        "source": record.source,
        "external_key": record.external_key,
        "first_seen": record.first_seen,
        "last_seen": record.last_seen,
        "upvotes": record.paper.upvotes,
        "raw": record.raw,
    }


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


# ---------------------------------------------------------------- import


def read(source: str | PathLike[str] | bytes, *, origin: str | None = None) -> Iterator[Item]:
    """Read an export (or plain JSONL): a path, streamed line by line, or the bytes themselves."""
    if isinstance(source, bytes):
        yield from parse(source, origin or "<bytes>")
        return
    path = Path(source)
    with open_binary(path) as handle:  # binary lines end at b"\n" only, never at U+2028
        yield from parse_lines(handle, origin or str(path))


def parse(data: bytes, origin: str) -> Iterator[Item]:
    """Parse JSONL bytes held in memory (the same as `read` on a file)."""
    return parse_lines(data.split(b"\n"), origin)


def parse_lines(lines: Iterable[bytes], origin: str) -> Iterator[Item]:
    """Parse JSONL lines (bytes, with or without their newline) into Records and BadRecords."""
    seen: dict[tuple[str, str], int] = {}  # duplicate-detection key -> its first line
    for number, line in enumerate(lines, start=1):
        position = f"{origin}: line {number}"
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")  # a BOM from some editors
        if not line.strip():
            continue
        try:
            obj, stored = load_line(line)
        except UnicodeDecodeError as exc:
            yield BadRecord(SOURCE, position, f"invalid UTF-8 at byte {exc.start}")
            continue
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            yield BadRecord(SOURCE, position, f"invalid JSON ({exc})")
            continue
        if kaggle.looks_like(obj):  # a Kaggle arXiv snapshot line: its own field names
            yield kaggle.record(obj, position, stored)
            continue
        try:
            key, records = _records(obj, position, stored)
        except _Invalid as exc:
            yield BadRecord(SOURCE, position, str(exc))
            continue
        if key is not None:
            if key in seen:
                reason = f"duplicate {key[0]} {key[1]} (first on line {seen[key]})"
                yield BadRecord(SOURCE, position, reason)
                continue
            seen[key] = number
        yield from records


def _records(
    obj: Any, position: str, stored: str | None = None
) -> tuple[tuple[str, str] | None, list[Record]]:
    """The duplicate-detection key and the Records of one decoded line.

    `stored` is the line's JSON text when `load_line` vouched for it: the raw record
    of a plain line (the whole line) as it will be stored.

    The key is the paperfeed id of an export line, else the paper's identity (None
    when there is nothing to compare: an id-less export line, an empty title).
    Raises _Invalid for the whole line.
    """
    if not isinstance(obj, dict):
        raise _Invalid(f"expected a JSON object, got {type(obj).__name__}")
    sources = obj.get("sources")
    if sources:  # an export line
        if not isinstance(sources, list):
            raise _Invalid("sources is not a list")
        paper_id = obj.get("id")
        if paper_id is not None and (not isinstance(paper_id, int) or isinstance(paper_id, bool)):
            raise _Invalid(f"id is not an integer: {paper_id!r:.60}")
        fields = _paper_fields(obj, plain=False)
        _count(obj, "upvotes", default=0)  # the merged count is not imported, but must be sane
        # Every sighting of the line is imported or none is: half a paper is not a round trip.
        records = [
            _sighting(fields, entry, position, number)
            for number, entry in enumerate(sources, start=1)
        ]
        return (("paper id", str(paper_id)) if paper_id is not None else None), records
    paper = Paper(**_paper_fields(obj, plain=True), upvotes=_count(obj, "upvotes", default=0))
    # The identity of the paper as validation will leave it (control characters dropped).
    ident = identity(paper.arxiv_id, normalise_title(clean_text(paper.title)))
    key = ("paper", repr(ident)) if ident != "title:" else None
    return key, [Record(paper, SOURCE, ident, position, obj, raw_json=stored)]


def _sighting(fields: dict[str, Any], entry: Any, position: str, number: int) -> Record:
    """One "sources" entry of an export line as a Record; raises _Invalid naming the entry."""
    try:
        if not isinstance(entry, dict):
            raise _Invalid("not an object")
        name, key = entry.get("source"), entry.get("external_key")
        if not isinstance(name, str) or not name or not isinstance(key, str) or not key:
            raise _Invalid("source and external_key must be non-empty strings")
        raw = entry.get("raw")
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise _Invalid("raw is not an object")
        return Record(
            paper=Paper(**fields, upvotes=_count(entry, "upvotes", default=0)),
            source=name,
            external_key=key,
            position=f"{position} (source {number})",
            raw=raw,
            first_seen=_moment(entry.get("first_seen"), "first_seen"),
            last_seen=_moment(entry.get("last_seen"), "last_seen"),
        )
    except _Invalid as exc:
        raise _Invalid(f"source {number}: {exc}") from None


def _paper_fields(obj: dict[str, Any], *, plain: bool) -> dict[str, Any]:
    """The Paper keyword arguments of a line (all but upvotes); raises _Invalid.

    Plain lines also accept the foreign names in _ALIASES. Building Papers from one
    dict of fields is several times faster than dataclasses.replace per sighting.
    """
    if plain:
        obj = dict(obj)
        for name, aliases in _ALIASES.items():
            for alias in aliases:
                if obj.get(name) is None and obj.get(alias) is not None:
                    obj[name] = obj[alias]
        if obj.get("arxiv_id") is None and isinstance(obj.get("id"), str):
            obj["arxiv_id"] = obj["id"]
        if isinstance(obj.get("arxiv_id"), str):
            # The key is the identity, so normalise now, exactly as validation will.
            obj["arxiv_id"] = normalise_arxiv_id(obj["arxiv_id"])
    fields: dict[str, Any] = {
        "title": _text(obj.get("title"), "title"),
        "abstract": _text(obj.get("abstract"), "abstract"),
    }
    for name in _OPTIONAL_TEXT:
        fields[name] = _text(obj.get(name), name) or None
    fields["authors"] = _authors(obj.get("authors"), plain=plain)
    fields["author_count"] = _count(obj, "author_count", default=None)
    fields["published_on"] = _date(obj.get("published_on"), "published_on")
    precision = obj.get("published_precision")
    if precision is not None and precision not in (YEAR, MONTH, DAY):
        raise _Invalid(f"published_precision is not year, month or day: {precision!r:.40}")
    fields["published_precision"] = precision or DAY
    fields["listed_on"] = _date(obj.get("listed_on"), "listed_on")
    fields["categories"] = _categories(obj.get("categories"), plain=plain)
    return fields


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Invalid(f"{name} is not a string: {type(value).__name__}")
    return value


def _authors(value: Any, *, plain: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    if plain and isinstance(value, str):  # "A. One, B. Two and C. Three"
        return tuple(split_author_list(value))
    if not isinstance(value, list):
        raise _Invalid("authors is not a list")
    names = []
    for author in value:
        if plain and isinstance(author, dict):  # {"name": …} as in many APIs
            author = author.get("name")
        if not isinstance(author, str):
            raise _Invalid(f"an author is not a string: {author!r:.60}")
        names.append(author)
    return tuple(names)


def _categories(value: Any, *, plain: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    if plain and isinstance(value, str):  # arXiv metadata dumps: "cs.CL cs.AI"
        return tuple(value.split())
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise _Invalid("categories is not a list of strings")
    return tuple(value)


def _count(obj: Mapping[str, Any], name: str, *, default: int | None) -> Any:
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid(f"{name} is not an integer: {value!r:.60}")
    return value


def _date(value: Any, name: str) -> date | None:
    """A date from "YYYY-MM-DD" or a full ISO timestamp (its own calendar day)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{name} is not a string: {type(value).__name__}")
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value).date()
    except ValueError:
        raise _Invalid(f"bad {name} date {value[:40]!r}") from None


def _moment(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{name} is not a string: {type(value).__name__}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(f"bad {name} timestamp {value[:40]!r}") from None
