"""Plain records that flow from the sources into the catalogue.

Nothing here touches the database or the network: a source turns bytes into
`Record`s (one sighting of one paper) and `BadRecord`s (why a piece of input
was skipped), and the catalogue merges sightings into papers using the
identity and merge rules defined below.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

# Limits that keep one hostile record from bloating the catalogue. A real
# abstract is under 2,000 characters; arXiv caps titles far below 1,000.
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MAX_AUTHORS = 5_000
# Fields PostgreSQL indexes with a b-tree (or that pages show on one line) must stay
# far below its ~2,700-byte index-row limit; real values are a fraction of these.
MAX_NAME = 500  # one author, the organisation
MAX_IDENTIFIER = 500  # DOI, GitHub URL
MAX_CATEGORY = 100
MAX_CATEGORIES = 100
# The raw record of one sighting (jsonb); a real one is a few kilobytes.
MAX_RAW = 1_000_000
# The columns holding counts are PostgreSQL `integer`.
MAX_INT = 2**31 - 1

# How much of a date a source stated. A year-only BibTeX entry becomes Jan 1 of that
# year with precision YEAR, so it never replaces a day that another source knew.
YEAR, MONTH, DAY = "year", "month", "day"
_PRECISION_RANK = {YEAR: 1, MONTH: 2, DAY: 3}

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Old-style (hep-th/9901001) and new-style (2401.01234) arXiv identifiers,
# with an optional version suffix that identity ignores.
_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(v\d+)?$")
_ARXIV_OLD = re.compile(r"^([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?$")


def normalise_title(title: str) -> str:
    """Lower-case, fold accents, collapse every run of non-alphanumerics to one space."""
    # NFKD and the ASCII round trip leave ASCII text as it is: skip them for most titles.
    folded = (
        title
        if title.isascii()
        else unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    )
    return _NON_ALNUM.sub(" ", folded.lower()).strip()


def title_id(title: str) -> str:
    """The evaluation set's paper id: the first 12 hex digits of sha1(normalised title)."""
    return hashlib.sha1(normalise_title(title).encode("utf-8")).hexdigest()[:12]


def normalise_arxiv_id(value: str | None) -> str | None:
    """Return the bare arXiv id (no version, no URL, no 'arXiv:' prefix), or None."""
    if not value:
        return None
    match = _ARXIV_NEW.match(value)  # already bare (most calls): nothing to strip
    if match:
        return match.group(1)
    text = value.strip()
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    for prefix in (
        "arxiv.org/abs/",
        "arxiv.org/pdf/",
        "www.arxiv.org/abs/",
        "export.arxiv.org/abs/",
    ):
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    if text.lower().startswith("arxiv:"):
        text = text[6:]
    text = text.removesuffix(".pdf")
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        match = pattern.match(text)
        if match:
            return match.group(1)
    return None


def http_url(value: str | None) -> str | None:
    """`value` when it is an absolute http(s) URL with a host, else None.

    The one rule for every outside link paperfeed stores or shows: anything
    else (javascript:, data:, relative paths, protocol-relative //host) could
    run script or leave the site in ways a reader does not expect. Applied
    when a paper is imported and again at every output (pages, mail, API), so
    rows written before the rule, or by any other path, never reach a reader
    as a live link.
    """
    text = (value or "").strip()
    if len(text) > 2_000 or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return None
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not host or any(ch.isspace() or ch in "<>\"'\\" for ch in text):
        return None
    return text


def identity(arxiv_id: str | None, normalised_title: str) -> str:
    """The catalogue key of a paper (see `Paper.identity`)."""
    return "arxiv:" + arxiv_id if arxiv_id else "title:" + normalised_title


@dataclass(frozen=True)
class Paper:
    """One paper as a source describes it; every field but the title may be unknown."""

    title: str
    abstract: str = ""
    arxiv_id: str | None = None
    doi: str | None = None
    authors: tuple[str, ...] = ()
    # Listing pages give only "N authors"; when authors are known it equals len(authors).
    author_count: int | None = None
    organization: str | None = None
    published_on: date | None = None
    # How much of published_on the source stated: YEAR, MONTH or DAY.
    published_precision: str = DAY
    # The day the paper entered a daily list (Hugging Face), if the source says.
    listed_on: date | None = None
    github_url: str | None = None
    # The upvote count the source showed; votes cast here are counted separately.
    upvotes: int = 0
    categories: tuple[str, ...] = ()

    @property
    def identity(self) -> str:
        """The catalogue key: the arXiv id when known, else the normalised title."""
        return identity(self.arxiv_id, self.normalised_title)

    # Cached: validation, matching, partitioning and the row all need it, and it
    # is the costliest field to derive. (cached_property writes the instance's
    # __dict__ directly, so it works on a frozen dataclass and is not a field:
    # equality, hashing and dataclasses.replace ignore it.)
    @cached_property
    def normalised_title(self) -> str:
        return normalise_title(self.title)


@dataclass(frozen=True)
class Record:
    """One sighting of one paper in one source, with the raw input kept for provenance."""

    paper: Paper
    source: str
    # Stable key of this sighting inside its source (arXiv id, file#card number …);
    # re-reading the same input yields the same key, which makes re-runs idempotent.
    external_key: str
    position: str
    raw: dict[str, Any] = field(default_factory=dict)
    # Only a paperfeed export knows when a sighting was first and last made;
    # other sources leave these unset and the catalogue stamps the import time.
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    # `raw` as the JSON the database will store: set by validation, or by a source that
    # read the record with a strict decoder (its text is then `raw` exactly, see
    # sources/jsonfields.load_line) and only checked by validation.
    raw_json: str | None = None


@dataclass(frozen=True)
class BadRecord:
    """A piece of input that was skipped, and why; the rest of the batch goes on."""

    source: str
    position: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source} {self.position}: {self.reason}"


Item = Record | BadRecord


class InvalidPaper(ValueError):
    """A record whose fields cannot make a paper (no title, absurd sizes …)."""


def _control_table() -> dict[int, str | None]:
    # Every control/format/surrogate/private/unassigned code point in the BMP is
    # dropped; whitespace controls (tab, newline …) become spaces.
    table: dict[int, str | None] = {}
    for code in range(0x10000):
        if unicodedata.category(chr(code))[0] == "C":
            table[code] = " " if chr(code).isspace() else None
    return table


_CONTROL = _control_table()


# In ASCII text the control characters (\x00-\x1f, \x7f) are exactly the characters
# str.isprintable() refuses, and the space is then the only whitespace. isprintable
# scans ~100x faster than a pattern for them (called for every abstract and author).


def clean_text(value: str | None) -> str:
    """Collapse whitespace and drop control characters that break pages and feeds."""
    if not value:
        return ""
    if value.isascii() and value.isprintable():
        # Most text is already clean: a scan is ~20x cheaper than the translation.
        if "  " not in value and value[0] != " " and value[-1] != " ":
            return value
        return " ".join(value.split())
    return " ".join(value.translate(_CONTROL).split())


def printable(value: str) -> str:
    """`value` with what PostgreSQL text cannot hold (NUL, lone surrogates) escaped.

    For messages and positions, which quote the input they complain about.
    """
    if value.isascii() and "\x00" not in value:
        return value
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _storable(value: str, name: str, limit: int) -> str:
    """A short identifier-like field as given, if PostgreSQL can store and index it."""
    if len(value) > limit:
        raise InvalidPaper(f"{name} of {len(value)} characters (limit {limit})")
    if value.isascii():
        refused = not value.isprintable()
    else:
        refused = any(unicodedata.category(ch) in ("Cs", "Cc") for ch in value)
    if refused:
        shown = repr(printable(value))[:80]
        raise InvalidPaper(f"{name} holds control characters or lone surrogates: {shown}")
    return value


def _whole_number(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidPaper(f"{name} is not a whole number: {printable(repr(value))[:60]}")
    if value < 0:
        raise InvalidPaper(f"negative {name} {value}")
    if value > MAX_INT:
        raise InvalidPaper(f"{name} {str(value)[:20]} is beyond the largest count ({MAX_INT})")
    return value


def validate(paper: Paper) -> Paper:
    """Return a cleaned copy of `paper`, or raise InvalidPaper with a readable reason.

    Everything PostgreSQL would refuse (integers beyond `integer`, NUL, lone
    surrogates, over-long indexed values) is refused here, per record: one such
    record must cost only itself, never the batch it travels in.
    """
    title = clean_text(paper.title)
    if not title or not normalise_title(title):
        raise InvalidPaper("missing title")
    if len(title) > MAX_TITLE:
        raise InvalidPaper(f"title of {len(title)} characters (limit {MAX_TITLE})")
    abstract = clean_text(paper.abstract)
    if len(abstract) > MAX_ABSTRACT:
        raise InvalidPaper(f"abstract of {len(abstract)} characters (limit {MAX_ABSTRACT})")
    authors = tuple(a for a in (clean_text(a) for a in paper.authors) if a)
    if len(authors) > MAX_AUTHORS:
        raise InvalidPaper(f"{len(authors)} authors (limit {MAX_AUTHORS})")
    for author in authors:
        if len(author) > MAX_NAME:
            raise InvalidPaper(f"an author name of {len(author)} characters (limit {MAX_NAME})")
    organization = clean_text(paper.organization) or None
    if organization and len(organization) > MAX_NAME:
        raise InvalidPaper(f"organization of {len(organization)} characters (limit {MAX_NAME})")
    count = paper.author_count
    if count is not None:
        count = _whole_number(count, "author count")
    if authors and (count is None or count < len(authors)):
        count = len(authors)
    upvotes = _whole_number(paper.upvotes, "upvote count")
    if len(paper.categories) > MAX_CATEGORIES:
        raise InvalidPaper(f"{len(paper.categories)} categories (limit {MAX_CATEGORIES})")
    categories = tuple(
        _storable(c, "category", MAX_CATEGORY) for c in paper.categories if c and c.strip()
    )
    if paper.published_precision not in _PRECISION_RANK:
        raise InvalidPaper(f"unknown date precision {paper.published_precision!r:.40}")
    doi = (paper.doi or "").strip().lower() or None
    github_url = http_url(paper.github_url)
    # Built field by field rather than with dataclasses.replace, which costs
    # more than the rest of validation for a typical record.
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=normalise_arxiv_id(paper.arxiv_id) if paper.arxiv_id else None,
        doi=_storable(doi, "doi", MAX_IDENTIFIER) if doi else None,
        authors=authors,
        author_count=count,
        organization=organization,
        published_on=paper.published_on,
        published_precision=paper.published_precision if paper.published_on else DAY,
        listed_on=paper.listed_on,
        github_url=_storable(github_url, "github_url", MAX_IDENTIFIER) if github_url else None,
        upvotes=upvotes,
        categories=categories,
    )


# An escaped NUL in JSON text: "\u0000" not itself preceded by an escaping backslash.
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def raw_json(raw: dict[str, Any]) -> str:
    """The raw record as the JSON jsonb will store; raises InvalidPaper where jsonb would refuse.

    jsonb refuses NaN/Infinity, the escaped NUL and lone surrogates; a huge raw
    record would bloat the catalogue for nothing.
    """
    try:
        text = json.dumps(raw, ensure_ascii=False, allow_nan=False, default=str)
    except ValueError as exc:  # NaN, Infinity, circular data, a huge int
        raise InvalidPaper(f"raw record cannot be stored: {exc}") from None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidPaper("raw record holds a lone surrogate (invalid Unicode)") from None
    return stored_json(text)


def stored_json(text: str) -> str:
    """JSON text known to be valid and free of NaN and lone surrogates (`raw_json`'s, or
    a line a strict decoder read), if jsonb can store it: no escaped NUL, bounded size."""
    if len(text) > MAX_RAW:
        raise InvalidPaper(f"raw record of {len(text)} characters (limit {MAX_RAW})")
    if "\\u0000" in text and _JSON_NUL.search(text):
        raise InvalidPaper("raw record holds a NUL character")
    return text


def checked(items: Iterable[Item]) -> Iterator[Item]:
    """Validate every Record of a source; turn invalid ones into BadRecords."""
    for item in items:
        if isinstance(item, BadRecord):
            yield item
            continue
        try:
            paper = validate(item.paper)
            # A source that read the record with a strict decoder hands over its text.
            encoded = stored_json(item.raw_json) if item.raw_json else raw_json(item.raw)
            _storable(item.external_key, "external key", MAX_TITLE)
            _storable(item.source, "source name", MAX_CATEGORY)
        except InvalidPaper as exc:
            yield BadRecord(item.source, printable(item.position), str(exc))
            continue
        yield Record(
            paper=paper,
            source=item.source,
            external_key=item.external_key,
            position=item.position,
            raw=item.raw,
            first_seen=item.first_seen,
            last_seen=item.last_seen,
            raw_json=encoded,
        )


def _richer_text(old: str, new: str) -> str:
    return new if len(new) > len(old) else old


def _earliest(old: date | None, new: date | None) -> date | None:
    if old is None:
        return new
    if new is None:
        return old
    return min(old, new)


def _better_date(
    old: date | None, old_precision: str, new: date | None, new_precision: str
) -> tuple[date | None, str]:
    """The more precise of two publication dates; of equally precise ones, the earliest."""
    if new is None:
        return old, old_precision
    if old is None:
        return new, new_precision
    old_rank, new_rank = _PRECISION_RANK[old_precision], _PRECISION_RANK[new_precision]
    if old_rank != new_rank:
        return (old, old_precision) if old_rank > new_rank else (new, new_precision)
    return min(old, new), old_precision


def merge(old: Paper, new: Paper) -> Paper:
    """Merge two descriptions of the same paper, keeping the richer value of each field.

    The rule, field by field (conflicting originals stay in paper_sources):
    - title: the first one seen, unless it was empty (titles are identity; don't flip-flop);
    - abstract: the longer one (listing pages and APIs sometimes truncate);
    - authors: the longer list; author_count: the larger of the counts, never
      fewer than the known author names (a count seen in a listing is a floor);
    - organization, github_url, doi, arxiv_id: the first known value;
    - published_on: the most precise date (a day beats a month beats a year: "2025"
      from a .bib must not move a paper to Jan 1), of equally precise ones the earliest;
    - listed_on: the earliest date (later dates are re-listings);
    - upvotes: the largest count any source showed (counts only grow on the source);
    - categories: the union, in first-seen order.
    Merging is commutative in everything but the first-seen fields, and idempotent.
    """
    authors = new.authors if len(new.authors) > len(old.authors) else old.authors
    counts = [c for c in (old.author_count, new.author_count) if c is not None]
    author_count = max(counts) if counts else None
    if authors and (author_count is None or author_count < len(authors)):
        author_count = len(authors)
    published_on, precision = _better_date(
        old.published_on, old.published_precision, new.published_on, new.published_precision
    )
    return Paper(
        title=old.title or new.title,
        abstract=_richer_text(old.abstract, new.abstract),
        arxiv_id=old.arxiv_id or new.arxiv_id,
        doi=old.doi or new.doi,
        authors=authors,
        author_count=author_count,
        organization=old.organization or new.organization,
        published_on=published_on,
        published_precision=precision,
        listed_on=_earliest(old.listed_on, new.listed_on),
        github_url=old.github_url or new.github_url,
        upvotes=max(old.upvotes, new.upvotes),
        categories=tuple(dict.fromkeys(old.categories + new.categories)),
    )
