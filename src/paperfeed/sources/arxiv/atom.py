"""The arXiv search API's Atom responses: bytes in, records out.

Documentation: https://info.arxiv.org/help/api/user-manual.html
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from paperfeed.model import BadRecord, Item, Paper, Record, normalise_arxiv_id
from paperfeed.sources.arxiv.common import (
    SOURCE,
    elements,
    has_replacement,
    iso_date,
    repair_utf8,
    text_of,
)
from paperfeed.sources.text import find_github_url

_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
_ARXIV_ATOM = "{http://arxiv.org/schemas/atom}"


@dataclass(frozen=True)
class AtomPage:
    """One page of Atom search results."""

    items: list[Item]
    # opensearch:totalResults: how many hits the whole query has (None if absent).
    total_results: int | None
    # How many <entry> elements the page held (good or bad); 0 means "no more pages".
    entries: int
    # False when the XML was cut off or broken; the items are what came before.
    complete: bool = True


def parse_atom(data: bytes, origin: str) -> AtomPage:
    """Parse one arXiv API Atom response into records, with the total hit count."""
    data, repaired = repair_utf8(data)
    wanted = {_ATOM + "entry", _OPENSEARCH + "totalResults"}
    found, error = elements(data, wanted)
    items: list[Item] = []
    total: int | None = None
    entries = 0
    for element in found:
        if element.tag == _OPENSEARCH + "totalResults":
            total = int(element.text) if (element.text or "").strip().isdigit() else None
            continue
        entries += 1
        item = _atom_entry(element, f"{origin}: entry {entries}")
        if repaired and isinstance(item, Record) and has_replacement(item):
            item = BadRecord(SOURCE, item.position, "invalid UTF-8 in the record")
        items.append(item)
    if error:
        items.append(BadRecord(SOURCE, f"{origin}: after entry {entries}", error))
    return AtomPage(items, total, entries, complete=error is None)


def _atom_entry(entry: ET.Element, position: str) -> Item:
    """One Atom <entry> as a Record, or why it cannot be one."""
    abs_url = text_of(entry, _ATOM + "id")
    if "/api/errors" in abs_url:  # the API reports bad queries as a one-entry feed
        message = text_of(entry, _ATOM + "summary") or "unknown error"
        return BadRecord(SOURCE, position, f"arXiv API error: {message}")
    arxiv_id = normalise_arxiv_id(abs_url)
    if arxiv_id is None:
        return BadRecord(SOURCE, position, f"no arXiv id in <id> {abs_url[:200]!r}")
    published = text_of(entry, _ATOM + "published")
    try:
        published_on = iso_date(published) if published else None
    except ValueError:
        return BadRecord(SOURCE, position, f"bad <published> date {published[:50]!r}")
    abstract = text_of(entry, _ATOM + "summary")
    comment = text_of(entry, _ARXIV_ATOM + "comment")
    primary = entry.find(_ARXIV_ATOM + "primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.findall(_ATOM + "category")]
    categories = tuple(dict.fromkeys(term for term in terms if term))
    authors = tuple(text_of(a, _ATOM + "name") for a in entry.findall(_ATOM + "author"))
    pdf = next(
        (link.get("href") for link in entry.findall(_ATOM + "link") if link.get("title") == "pdf"),
        None,
    )
    doi = text_of(entry, _ARXIV_ATOM + "doi") or None
    title = text_of(entry, _ATOM + "title")
    paper = Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        doi=doi,
        authors=authors,
        published_on=published_on,
        github_url=find_github_url(abstract, comment),
        categories=categories,
    )
    raw = {
        "format": "atom",
        "id": abs_url,
        "title": title,
        "summary": abstract,
        "authors": list(authors),
        "published": published,
        "updated": text_of(entry, _ATOM + "updated"),
        "doi": doi,
        "comment": comment or None,
        "journal_ref": text_of(entry, _ARXIV_ATOM + "journal_ref") or None,
        "categories": list(categories),
        "pdf": pdf,
    }
    return Record(paper, SOURCE, arxiv_id, position, raw)
