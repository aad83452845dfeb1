"""Semantic Scholar papers (https://api.semanticscholar.org/api-docs/graph).

Read from a Graph API response — one paper, the `{"data": [...]}` wrapper of search
and bulk search (`{"total", "offset", "next", "data"}` / `{"total", "token", "data"}`),
or the list the batch endpoint returns (null for ids it does not know) — or from
the Datasets API's JSON Lines (lower-case names: `externalids`, `publicationdate`):

    {"paperId": "204e3073870fae3d05bcbc2f6a8e263d9b72e776",
     "externalIds": {"ArXiv": "1706.03762", "DOI": "…", "CorpusId": 13756489},
     "title": "Attention is All you Need", "abstract": "…", "year": 2017,
     "publicationDate": "2017-06-12", "venue": "…",
     "authors": [{"authorId": "40348417", "name": "Ashish Vaswani"}, …],
     "fieldsOfStudy": ["Computer Science"], "citationCount": …}

Mapping: title; abstract; authors[].name; publicationDate (else year, precision
"year"); externalIds.DOI; externalIds.ArXiv. The external key is the paperId
(else "corpus:<CorpusId>").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paperfeed.model import BadRecord, Item, Paper, Record
from paperfeed.sources import jsonfields
from paperfeed.sources.jsonfields import Invalid, mapping, sequence, string, whole_number

SOURCE = "semantic_scholar"


def read(path: str | Path, *, origin: str | None = None) -> Iterator[Item]:
    """Read a file; JSON Lines (the datasets) are streamed."""
    return jsonfields.read_path(
        path,
        origin or Path(path).name,
        parse,
        lambda lines, name: _records(jsonfields.lines(lines, name, SOURCE)),
    )


def parse(data: bytes, origin: str) -> Iterator[Item]:
    return _records(jsonfields.elements(data, origin, SOURCE, _unwrap))


def _records(found: Iterator[Any]) -> Iterator[Item]:
    for entry in found:
        if not isinstance(entry, BadRecord) and entry[1] is None:
            # The batch endpoint answers null for an id it does not know.
            yield BadRecord(SOURCE, entry[0], "no such paper (null in a batch response)")
            continue
        yield from jsonfields.records([entry], SOURCE, _record)


def _unwrap(obj: dict[str, Any]) -> list[Any] | None:
    return sequence(obj, "data") if "data" in obj else None


def looks_like(obj: Any) -> bool:
    """True for a decoded Semantic Scholar paper or response (format detection)."""
    if not isinstance(obj, dict):
        return False
    if isinstance(obj.get("data"), list):
        return any(looks_like(paper) for paper in obj["data"][:1])
    return any(key in obj for key in ("paperId", "externalIds", "externalids", "corpusid"))


def _get(paper: dict[str, Any], name: str) -> Any:
    """A field by its Graph API name, or its lower-case Datasets API spelling."""
    return paper.get(name, paper.get(name.lower()))


def _record(paper: dict[str, Any], position: str) -> Record:
    fields = {name: _get(paper, name) for name in ("paperId", "externalIds", "publicationDate")}
    external = mapping(fields, "externalIds")
    key = string(fields, "paperId")
    if not key:
        corpus = external.get("CorpusId", paper.get("corpusid"))
        if corpus is None:
            raise Invalid("paper without a paperId or CorpusId")
        key = f"corpus:{corpus}"
    arxiv = external.get("ArXiv") or external.get("arxiv")
    doi = external.get("DOI") or external.get("doi")
    if arxiv is not None and not isinstance(arxiv, str):
        raise Invalid("externalIds.ArXiv is not a string")
    if doi is not None and not isinstance(doi, str):
        raise Invalid("externalIds.DOI is not a string")
    published_on, precision = jsonfields.published(
        string(fields, "publicationDate"), whole_number(paper, "year"), "publicationDate"
    )
    names = []
    for author in sequence(paper, "authors"):
        if not isinstance(author, dict):
            raise Invalid("an author is not an object")
        if string(author, "name").strip():
            names.append(string(author, "name"))
    record = Paper(
        title=string(paper, "title"),
        abstract=string(paper, "abstract"),
        arxiv_id=arxiv or None,
        doi=doi or None,
        authors=tuple(names),
        published_on=published_on,
        published_precision=precision,
    )
    return Record(record, SOURCE, key, position, paper)
