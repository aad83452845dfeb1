"""OpenAlex works (https://docs.openalex.org/api-entities/works/work-object).

Read from an API response (`{"meta": …, "results": [work, …]}`), one work object, a
list, or the snapshot's JSON Lines (`works/…/part_000.gz`, gzip read transparently):

    {"id": "https://openalex.org/W2741809807", "doi": "https://doi.org/10.7717/peerj.4375",
     "title": "…", "display_name": "…", "publication_year": 2018,
     "publication_date": "2018-02-13",
     "ids": {"openalex": "…", "doi": "…", "mag": "…", "arxiv": "…"},
     "authorships": [{"author_position": "first",
                      "author": {"id": "…", "display_name": "Heather Piwowar"}, …}],
     "abstract_inverted_index": {"Despite": [0], "growing": [1], …},
     "primary_location": {"landing_page_url": "…", "source": {"display_name": "…"}},
     "locations": […], "type": "article", "topics": […]}

Mapping: title (else display_name); the abstract rebuilt from `abstract_inverted_index`
(word → positions); authors from authorships[].author.display_name (else
raw_author_name); publication_date (else publication_year, precision "year");
doi without its https://doi.org/ prefix; the arXiv id from ids.arxiv, an arXiv DOI
or a location's arxiv.org URL. The external key is the OpenAlex id ("W2741809807").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paperfeed.model import MAX_ABSTRACT, Item, Paper, Record
from paperfeed.sources import jsonfields
from paperfeed.sources.jsonfields import Invalid, mapping, sequence, string, whole_number
from paperfeed.sources.text import find_arxiv_id, find_github_url

SOURCE = "openalex"
# An inverted index is rebuilt only up to this many words (a real abstract has < 1,000).
MAX_ABSTRACT_WORDS = MAX_ABSTRACT // 2


def read(path: str | Path, *, origin: str | None = None) -> Iterator[Item]:
    """Read a file; JSON Lines (the snapshot) are streamed."""
    return jsonfields.read_path(
        path,
        origin or Path(path).name,
        parse,
        lambda lines, name: jsonfields.records(
            jsonfields.lines(lines, name, SOURCE), SOURCE, _record
        ),
    )


def parse(data: bytes, origin: str) -> Iterator[Item]:
    found = jsonfields.elements(data, origin, SOURCE, _unwrap)
    return jsonfields.records(found, SOURCE, _record)


def _unwrap(obj: dict[str, Any]) -> list[Any] | None:
    return sequence(obj, "results") if "results" in obj else None


def looks_like(obj: Any) -> bool:
    """True for a decoded OpenAlex work (format detection)."""
    if not isinstance(obj, dict):
        return False
    if "results" in obj and isinstance(obj["results"], list):
        return any(looks_like(work) for work in obj["results"][:1])
    work_id = obj.get("id")
    return (isinstance(work_id, str) and work_id.startswith("https://openalex.org/")) or (
        "authorships" in obj and "abstract_inverted_index" in obj
    )


def abstract_from_inverted_index(index: Any) -> str:
    """Rebuild the abstract: each word placed at its positions, in order."""
    if not isinstance(index, dict):
        raise Invalid("abstract_inverted_index is not an object")
    placed: list[tuple[int, str]] = []
    for word, positions in index.items():
        if not isinstance(positions, list):
            raise Invalid("abstract_inverted_index positions are not lists")
        for position in positions:
            if not isinstance(position, int) or isinstance(position, bool) or position < 0:
                raise Invalid(f"bad abstract_inverted_index position {position!r:.20}")
            placed.append((position, word))
            if len(placed) > MAX_ABSTRACT_WORDS:
                raise Invalid(f"abstract of more than {MAX_ABSTRACT_WORDS} words")
    placed.sort()  # sorting pairs, not allocating a list as long as the largest position
    return " ".join(word for _, word in placed)


def _record(work: dict[str, Any], position: str) -> Record:
    work_id = string(work, "id").removeprefix("https://openalex.org/")
    if not work_id:
        raise Invalid("work without an id")
    ids = mapping(work, "ids")
    doi = (string(work, "doi") or string(ids, "doi")).strip()
    for prefix in ("https://doi.org/", "http://doi.org/", "doi:"):
        doi = doi.removeprefix(prefix)
    urls = []
    for location in [mapping(work, "primary_location"), *sequence(work, "locations")]:
        if isinstance(location, dict):
            urls += [string(location, "landing_page_url"), string(location, "pdf_url")]
    arxiv_id = find_arxiv_id(string(ids, "arxiv"), doi, *urls)
    if not arxiv_id and string(ids, "arxiv"):
        arxiv_id = find_arxiv_id("arXiv:" + string(ids, "arxiv"))
    index = work.get("abstract_inverted_index")
    abstract = abstract_from_inverted_index(index) if index is not None else ""
    published_on, precision = jsonfields.published(
        string(work, "publication_date"), whole_number(work, "publication_year"), "publication_date"
    )
    paper = Paper(
        title=string(work, "title") or string(work, "display_name"),
        abstract=abstract,
        arxiv_id=arxiv_id,
        doi=doi or None,
        authors=tuple(_authors(sequence(work, "authorships"))),
        published_on=published_on,
        published_precision=precision,
        github_url=find_github_url(*urls),
    )
    return Record(paper, SOURCE, work_id, position, work)


def _authors(authorships: list[Any]) -> list[str]:
    names = []
    for authorship in authorships:
        if not isinstance(authorship, dict):
            raise Invalid("an authorship is not an object")
        name = string(mapping(authorship, "author"), "display_name") or string(
            authorship, "raw_author_name"
        )
        if name.strip():
            names.append(name)
    return names
