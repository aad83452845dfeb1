"""RIS, the tagged format of EndNote, Zotero, Mendeley, Web of Science and most publishers.

Specification: the RIS format as documented by Research Information Systems / Clarivate
(https://en.wikipedia.org/wiki/RIS_(file_format) summarises it). A record is lines
"XX  - value" (two-character tag, two spaces, hyphen, space) from `TY` to `ER`:

    TY  - JOUR
    AU  - Vaswani, Ashish
    TI  - Attention Is All You Need
    PY  - 2017/06/12/
    AB  - …
    DO  - 10.48550/arXiv.1706.03762
    UR  - http://arxiv.org/abs/1706.03762
    ER  -

Mapping: TI/T1 (else CT, BT) → title; AB/N2 → abstract; AU/A1 (else A2 …) → authors,
"Last, First" → "First Last"; DA, else PY/Y1 → published_on with its precision
("2017///" is a year); DO → doi; the arXiv id from DO, UR, L1, N1, M1, J2/T2/JO
("arXiv:…"); KW → kept in raw. Lines without a tag continue the previous value.
The external key is "<origin>#<ID>", else the DOI, else the paper's identity.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from paperfeed.model import DAY, BadRecord, Item, Paper, Record, identity, normalise_title
from paperfeed.sources.files import read_bytes
from paperfeed.sources.text import find_arxiv_id, find_github_url, is_et_al, partial_date

SOURCE = "ris"

_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_FIRST_OF = {
    "title": ("TI", "T1", "CT", "BT"),
    "abstract": ("AB", "N2"),
    "date": ("DA", "PY", "Y1"),
}
_AUTHOR_TAGS = ("AU", "A1")
_MORE_AUTHOR_TAGS = ("A2", "A3", "A4")
_ARXIV_TAGS = ("DO", "UR", "L1", "L2", "N1", "M1", "J2", "T2", "JO", "JF", "SN")


def read(path: str | Path, *, origin: str | None = None) -> Iterator[Item]:
    return parse(read_bytes(path), origin or Path(path).name)


def looks_like(text: str) -> bool:
    """True when the text has RIS's TY line (format detection)."""
    return re.search(r"^TY  - ", text[:20_000], re.MULTILINE) is not None


def parse(data: bytes, origin: str) -> Iterator[Item]:
    """Parse RIS bytes: one Record or BadRecord per TY … ER record."""
    text = data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    fields: dict[str, list[str]] | None = None
    last_tag = ""
    start = number = 0
    for line_number, line in enumerate(text.splitlines(), start=1):
        line = line.rstrip()
        match = _TAG.match(line)
        if match is None:
            if fields is not None and last_tag and line.strip():
                fields[last_tag][-1] += " " + line.strip()  # a wrapped value
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if fields is not None:  # a record without ER: close it here
                yield _record(fields, origin, number, start)
            number += 1
            fields, start, last_tag = {"TY": [value]}, line_number, "TY"
        elif fields is None:
            continue  # tags outside a record (a header, stray text)
        elif tag == "ER":
            yield _record(fields, origin, number, start)
            fields, last_tag = None, ""
        else:
            fields.setdefault(tag, []).append(value)
            last_tag = tag
    if fields is not None:
        yield _record(fields, origin, number, start)


def _first(fields: dict[str, list[str]], tags: tuple[str, ...]) -> str:
    for tag in tags:
        for value in fields.get(tag, []):
            if value.strip():
                return value.strip()
    return ""


def _record(fields: dict[str, list[str]], origin: str, number: int, line: int) -> Item:
    position = f"{origin}: record {number} (line {line})"
    title = _first(fields, _FIRST_OF["title"])
    if not title:
        return BadRecord(SOURCE, position, "record has no title (TI/T1)")
    written = _first(fields, _FIRST_OF["date"])
    try:
        published = partial_date(written) if written else None
    except ValueError:
        return BadRecord(SOURCE, position, f"impossible date {written[:40]!r}")
    doi = _first(fields, ("DO",)) or None
    if doi:
        doi = doi.removeprefix("https://doi.org/").removeprefix("http://dx.doi.org/")
    urls = [v for tag in ("UR", "L1", "L2") for v in fields.get(tag, [])]
    arxiv_id = find_arxiv_id(*(v for tag in _ARXIV_TAGS for v in fields.get(tag, [])))
    paper = Paper(
        title=title,
        abstract=_first(fields, _FIRST_OF["abstract"]),
        arxiv_id=arxiv_id,
        doi=doi,
        authors=tuple(_authors(fields)),
        published_on=published[0] if published else None,
        published_precision=published[1] if published else DAY,
        github_url=find_github_url(*urls),
    )
    key = _first(fields, ("ID",)) or doi or identity(arxiv_id, normalise_title(title))
    return Record(paper, SOURCE, f"{origin}#{key}", position, {"fields": fields})


def _authors(fields: dict[str, list[str]]) -> list[str]:
    names = [v for tag in _AUTHOR_TAGS for v in fields.get(tag, [])]
    if not names:
        names = [v for tag in _MORE_AUTHOR_TAGS for v in fields.get(tag, [])]
    people = []
    for name in names:
        parts = [part.strip() for part in name.split(",")]
        # "Last, First" and "Last, First, Suffix"; a name without a comma is as written.
        person = " ".join([*parts[1:2], parts[0], *parts[2:]]) if len(parts) > 1 else name
        person = " ".join(person.split())
        if person and not is_et_al(person):
            people.append(person)
    return people
