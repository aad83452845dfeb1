"""The Kaggle arXiv metadata snapshot (`arxiv-metadata-oai-snapshot.json`), streamed.

Cornell's dataset is one JSON object per line (2.7M lines, ~4 GB; often kept
gzipped — any file is read through `files.open_binary`):

    {"id": "0704.0001", "submitter": "…", "authors": "C. Bal\\'azs, E. L. Berger, …",
     "title": "…", "comments": "…", "journal-ref": "Phys.Rev.D76:013009,2007",
     "doi": "10.1103/PhysRevD.76.013009", "report-no": "…", "categories": "hep-ph",
     "license": null, "abstract": "…",
     "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}, …],
     "update_date": "2008-11-13",
     "authors_parsed": [["Balázs", "C.", ""], ["Berger", "E. L.", ""], …]}

Field mapping: published_on is the day (UTC) of the first version's `created`;
authors come from `authors_parsed` ("First Last Suffix", accents already resolved),
falling back to splitting the LaTeX `authors` string; "et al." is dropped; the first
space-separated `doi`; `categories` split on spaces. The whole line is the raw record.
The source is "kaggle", keyed by the bare arXiv id, so a re-import merges in place
and the paper merges with its arXiv/HF sightings by arXiv id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import suppress
from datetime import UTC, date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from paperfeed.model import BadRecord, Item, Paper, Record, normalise_arxiv_id
from paperfeed.sources.files import open_binary
from paperfeed.sources.jsonfields import Invalid, load_line, string
from paperfeed.sources.text import find_github_url, is_et_al, split_author_list

SOURCE = "kaggle"
# The fields that tell a snapshot line from other JSON lines (see `looks_like`).
SIGNATURE = ("id", "versions", "authors_parsed")


_Invalid = Invalid  # a line that cannot become a Record; the message is the reason


def looks_like(obj: Any) -> bool:
    """True for a decoded snapshot line (used by the JSONL reader and format detection)."""
    return isinstance(obj, dict) and all(name in obj for name in SIGNATURE)


def read(path: str | Path, *, origin: str | None = None) -> Iterator[Item]:
    """Stream a snapshot file (plain or gzip) line by line."""
    with open_binary(path) as handle:
        yield from parse_lines(handle, origin or str(path))


def parse(data: bytes, origin: str) -> Iterator[Item]:
    """Parse snapshot bytes held in memory."""
    return parse_lines(data.split(b"\n"), origin)


def parse_lines(lines: Iterable[bytes], origin: str) -> Iterator[Item]:
    """One Record (or BadRecord) per non-blank line."""
    for number, line in enumerate(lines, start=1):
        if number == 1:
            line = line.removeprefix(b"\xef\xbb\xbf")
        if not line.strip():
            continue
        position = f"{origin}: line {number}"
        try:
            obj, stored = load_line(line)
        except UnicodeDecodeError as exc:
            yield BadRecord(SOURCE, position, f"invalid UTF-8 at byte {exc.start}")
            continue
        except (ValueError, RecursionError) as exc:
            yield BadRecord(SOURCE, position, f"invalid JSON ({exc})")
            continue
        yield record(obj, position, stored)


def record(obj: Any, position: str, stored: str | None = None) -> Item:
    """The Record of one decoded snapshot line, or a BadRecord saying why not.

    `stored` is the line's own JSON text when `jsonfields.load_line` vouched for it.
    """
    try:
        paper = _paper(obj)
        return Record(paper, SOURCE, paper.arxiv_id or "", position, obj, raw_json=stored)
    except _Invalid as exc:
        return BadRecord(SOURCE, position, str(exc))


def _arxiv_id(obj: dict[str, Any]) -> str:
    value = obj.get("id")
    arxiv_id = normalise_arxiv_id(value) if isinstance(value, str) else None
    if arxiv_id is None:
        raise _Invalid(f"bad arXiv id {value!r:.60}")
    return arxiv_id


def _paper(obj: Any) -> Paper:
    if not isinstance(obj, dict):
        raise _Invalid(f"expected a JSON object, got {type(obj).__name__}")
    arxiv_id = _arxiv_id(obj)
    abstract = string(obj, "abstract")
    doi = string(obj, "doi").split()
    categories = string(obj, "categories").split()
    return Paper(
        title=string(obj, "title"),
        abstract=abstract,
        arxiv_id=arxiv_id,
        doi=doi[0] if doi else None,
        authors=tuple(authors(obj)),
        published_on=first_version_day(obj.get("versions")),
        github_url=find_github_url(abstract, string(obj, "comments")),
        categories=tuple(dict.fromkeys(categories)),
    )


def _name(entry: list[str]) -> str:
    """ "First Last Suffix" of an authors_parsed entry (blank parts left out)."""
    last, first, *rest = [*entry, "", ""][: max(len(entry), 2)]
    return " ".join(part for part in (first, last, *rest) if part.strip())


def authors(obj: dict[str, Any]) -> list[str]:
    """Names from `authors_parsed` ([last, first, suffix] each), else from `authors`."""
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for entry in parsed:
            if type(entry) is list and len(entry) == 3:  # nearly every entry: no generic path
                last, first, suffix = entry
                if type(last) is str and type(first) is str and type(suffix) is str:
                    name = " ".join([part for part in (first, last, suffix) if part.strip()])
                    if name and not is_et_al(name):
                        names.append(name)
                    continue
            if not isinstance(entry, list) or not all(isinstance(p, str) for p in entry):
                raise _Invalid(f"authors_parsed entry is not a list of strings: {entry!r:.60}")
            name = _name(entry)
            if name.strip() and not is_et_al(name):
                names.append(name)
        return names
    return split_author_list(string(obj, "authors"))


# How arXiv writes every `created` ("Mon, 2 Apr 2007 19:18:42 GMT"): read directly,
# ~10x cheaper than email.utils; anything else goes through email.utils.
_CREATED = re.compile(
    r"(?:[A-Z][a-z]{2}, )?([0-9]{1,2}) ([A-Z][a-z]{2}) ([0-9]{4})"
    r" (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] GMT"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


def first_version_day(versions: Any) -> date | None:
    """The UTC day of the first version's `created` ("Mon, 2 Apr 2007 19:18:42 GMT")."""
    if versions is None or versions == []:
        return None
    if not isinstance(versions, list) or not isinstance(versions[0], dict):
        raise _Invalid("versions is not a list of objects")
    created = versions[0].get("created")
    if not isinstance(created, str) or not created:
        raise _Invalid("versions[0].created is missing")
    match = _CREATED.fullmatch(created)
    if match and match.group(2) in _MONTHS:
        with suppress(ValueError):  # an impossible day: email.utils says why below
            return date(int(match.group(3)), _MONTHS[match.group(2)], int(match.group(1)))
    try:
        moment = parsedate_to_datetime(created)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise _Invalid(f"bad versions[0].created {created[:50]!r}") from None
    if moment.tzinfo is None:  # "-0000" means UTC without saying so
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()
