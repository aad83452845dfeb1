"""CSL-JSON: the citation format Zotero, Mendeley, Pandoc and citeproc share.

Specification: https://citeproc-js.readthedocs.io/en/latest/csl-json/markup.html and
the schema at https://github.com/citation-style-language/schema (csl-data.json). A
file is a JSON list of items (one object, or JSON Lines, are also read):

    [{"id": "vaswani2017", "type": "article", "title": "Attention Is All You Need",
      "author": [{"family": "Vaswani", "given": "Ashish"}, {"literal": "Google Brain"}],
      "issued": {"date-parts": [[2017, 6, 12]]},            (or {"raw": "2017-06-12"})
      "abstract": "…", "DOI": "10.48550/arXiv.1706.03762",
      "URL": "http://arxiv.org/abs/1706.03762", "number": "arXiv:1706.03762",
      "publisher": "arXiv", "container-title": "…", "keyword": "…"}, …]

Mapping: title; abstract; authors "given family" (particles and suffix kept,
`literal` names as written); `issued` → published_on with its precision (year /
month / day), from `date-parts`, else `raw`/`literal`; DOI (an arXiv DOI also gives
the arXiv id); the arXiv id from DOI, URL, `number`, `archive_location` or `note`.
The external key is "<origin>#<id>" (CSL ids are unique within one file).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paperfeed.model import DAY, Item, Paper, Record, identity, normalise_title
from paperfeed.sources import jsonfields
from paperfeed.sources.files import read_bytes
from paperfeed.sources.jsonfields import Invalid, mapping, sequence, string
from paperfeed.sources.text import date_parts, find_arxiv_id, find_github_url, partial_date

SOURCE = "csl_json"


def read(path: str | Path, *, origin: str | None = None) -> Iterator[Item]:
    return parse(read_bytes(path), origin or Path(path).name)


def parse(data: bytes, origin: str) -> Iterator[Item]:
    """Parse a CSL-JSON document (a list of items, one item, or JSON Lines)."""
    found = jsonfields.elements(data, origin, SOURCE, lambda obj: sequence(obj, "items") or None)
    return jsonfields.records(found, SOURCE, lambda obj, pos: _record(obj, pos, origin))


def looks_like(obj: Any) -> bool:
    """True for a decoded CSL item (format detection)."""
    return (
        isinstance(obj, dict)
        and "type" in obj
        and (
            "issued" in obj
            or "container-title" in obj
            or "citation-key" in obj
            or any(
                isinstance(a, dict) and ("family" in a or "literal" in a)
                for a in obj.get("author") or []
                if isinstance(obj.get("author"), list)
            )
        )
    )


def _record(item: dict[str, Any], position: str, origin: str) -> Record:
    title = string(item, "title")
    doi = string(item, "DOI").strip() or None
    url = string(item, "URL")
    abstract = string(item, "abstract")
    arxiv_id = find_arxiv_id(
        doi, url, _text(item, "number"), string(item, "archive_location"), string(item, "note")
    )
    published = _issued(mapping(item, "issued"))
    paper = Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        doi=doi,
        authors=tuple(_authors(sequence(item, "author"))),
        published_on=published[0] if published else None,
        published_precision=published[1] if published else DAY,
        github_url=find_github_url(url) if "github.com" in url else None,
    )
    key = _text(item, "id") or identity(arxiv_id, normalise_title(title))
    return Record(paper, SOURCE, f"{origin}#{key}", position, item)


def _text(item: dict[str, Any], key: str) -> str:
    """A field CSL allows as a string or a number (id, number)."""
    value = item.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return string(item, key)


def _authors(people: list[Any]) -> list[str]:
    names = []
    for person in people:
        if not isinstance(person, dict):
            raise Invalid(f"an author is not an object: {person!r:.40}")
        literal = string(person, "literal")
        parts = (
            string(person, "given"),
            string(person, "dropping-particle"),
            string(person, "non-dropping-particle"),
            string(person, "family"),
            string(person, "suffix"),
        )
        name = literal or " ".join(part for part in parts if part.strip())
        if name.strip():
            names.append(name)
    return names


def _issued(issued: dict[str, Any]) -> tuple[Any, str] | None:
    """(date, precision) of a CSL date object; the first date of a range."""
    try:
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts:
            found = date_parts(parts[0])
            if found is None:
                raise Invalid(f"bad issued date-parts {parts!r:.60}")
            return found
        written = string(issued, "raw") or string(issued, "literal")
        return partial_date(written) if written else None
    except ValueError as exc:
        if isinstance(exc, Invalid):
            raise
        raise Invalid(f"impossible issued date {issued!r:.60}") from None
