"""arXiv: the Atom search API and the OAI-PMH bulk harvest (`arXiv` and `arXivRaw` formats).

The parsers are pure (`parse_atom`, `parse_oai`: bytes in, items out); `ArxivClient`
adds the network: polite rate limiting, retries on 503 + Retry-After, and paging
(Atom `start`/`totalResults`, OAI-PMH `resumptionToken`). Both APIs describe the same
arXiv record, so both use the source name "arxiv" and the bare arXiv id as key:
a search hit and a harvested record of one paper are one sighting.

Documentation: https://info.arxiv.org/help/api/user-manual.html and
https://info.arxiv.org/help/oa/index.html (OAI-PMH, 3 s between requests).
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from http.client import HTTPException
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from paperfeed.model import BadRecord, Item, Paper, Record, normalise_arxiv_id
from paperfeed.sources import SourceUnavailable

SOURCE = "arxiv"
API_URL = "https://export.arxiv.org/api/query"
OAI_URL = "https://export.arxiv.org/oai2"
USER_AGENT = "paperfeed/0.1 (self-hosted research-paper discovery)"

_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
_ARXIV_ATOM = "{http://arxiv.org/schemas/atom}"
_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_ARXIV_OAI = "{http://arxiv.org/OAI/arXiv/}"
_ARXIV_RAW = "{http://arxiv.org/OAI/arXivRaw/}"

# A repository link in free text; the character class stops at ")", "}", "," and spaces.
_GITHUB = re.compile(r"(?:https?://)?(?:www\.)?github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)")
# Parenthesised affiliations in arXivRaw author strings: "A. Author (1), B. Author (2) ((1) X)".
_PARENS = re.compile(r"\([^()]*\)")
_AUTHOR_SEPARATORS = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


# ---------------------------------------------------------------- HTTP plumbing
# (Shared with hf_daily; a candidate for a `sources/http.py` of its own.)


class HttpResponse(NamedTuple):
    """What a getter returns: status, headers (any case) and the body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


# The injectable getter: (url, headers, timeout in seconds) -> response. It returns
# non-2xx statuses as responses and raises OSError for transport failures.
HttpGet = Callable[[str, Mapping[str, str], float], HttpResponse]

# Refuse to buffer absurd bodies: an OAI page is ~3 MB, a daily list ~1 MB.
MAX_BODY = 64 * 1024 * 1024


def urllib_get(url: str, headers: Mapping[str, str], timeout: float) -> HttpResponse:
    """GET `url` with the standard library; transport failures raise OSError."""
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BODY + 1)
            status, response_headers = response.status, response.headers
    except urllib.error.HTTPError as exc:  # a status, not a transport failure
        return HttpResponse(exc.code, exc.headers or {}, exc.read(MAX_BODY + 1))
    except HTTPException as exc:  # e.g. IncompleteRead: the connection broke mid-body
        raise OSError(f"broken HTTP response: {exc!r}") from exc
    if len(body) > MAX_BODY:
        raise OSError(f"response larger than {MAX_BODY} bytes")
    return HttpResponse(status, response_headers, body)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, looked up without regard to case."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


# ---------------------------------------------------------------- shared helpers


def find_github_url(*texts: str | None) -> str | None:
    """The first github.com repository URL in the texts, as https://github.com/owner/repo."""
    for text in texts:
        match = _GITHUB.search(text or "")
        if match:
            owner, repo = match.group(1), match.group(2).rstrip(".").removesuffix(".git")
            if repo:
                return f"https://github.com/{owner}/{repo}"
    return None


def split_author_list(text: str) -> list[str]:
    """Split "A. One, B. Two and C. Three" into names, dropping parenthesised affiliations."""
    # One space between words first: the separator pattern then cannot backtrack over
    # long runs of whitespace (hostile input would make that quadratic).
    text = " ".join(text.split())
    for _ in range(3):  # affiliations nest once, "((1) Univ X, (2) Univ Y)"; deeper is not one
        text, removed = _PARENS.subn(" ", text)
        if not removed:
            break
    names = (" ".join(part.split()) for part in _AUTHOR_SEPARATORS.split(text))
    return [name for name in names if name]


def _text(element: ET.Element | None, path: str) -> str:
    """The stripped text of the first `path` under `element`, or ""."""
    found = element.find(path) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _repair_utf8(data: bytes) -> tuple[bytes, bool]:
    """Replace invalid UTF-8 with U+FFFD so one bad byte costs one record, not the page.

    Returns the bytes to parse and whether anything was replaced. A document that
    declares another encoding is left to the XML parser.
    """
    declared = _XML_ENCODING.match(data[:200])
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return data, False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace").encode("utf-8"), True
    return data, False


def _has_replacement(item: Record) -> bool:
    paper = item.paper
    texts = (paper.title, paper.abstract, *paper.authors)
    return any("\ufffd" in text for text in texts)


def _elements(data: bytes, wanted: set[str]) -> tuple[list[ET.Element], str | None]:
    """Every complete element whose tag is in `wanted`, and the XML error that ended parsing.

    A pull parser keeps the elements completed before a truncation or syntax error,
    so a cut-off page still yields its first records. DOCTYPEs are refused outright:
    entity declarations are the only way to an entity-expansion bomb, and no arXiv
    response has one.
    """
    if b"<!DOCTYPE" in data:
        return [], "document declares a DOCTYPE (refused: entity expansion guard)"
    parser = ET.XMLPullParser(events=("end",))
    parser.feed(data)
    found: list[ET.Element] = []
    try:
        for _event, element in parser.read_events():
            if element.tag in wanted:
                found.append(element)
        parser.close()
    except ET.ParseError as exc:
        return found, f"malformed XML ({exc})"
    return found, None


def _iso_date(value: str) -> date:
    """The calendar day of an ISO date or timestamp, as written ("2024-01-02T22:00:00-05:00").

    Not converted to UTC: the day arXiv itself shows for the paper is the one written.
    """
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value).date()


# ---------------------------------------------------------------- Atom search API


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
    data, repaired = _repair_utf8(data)
    wanted = {_ATOM + "entry", _OPENSEARCH + "totalResults"}
    elements, error = _elements(data, wanted)
    items: list[Item] = []
    total: int | None = None
    entries = 0
    for element in elements:
        if element.tag == _OPENSEARCH + "totalResults":
            total = int(element.text) if (element.text or "").strip().isdigit() else None
            continue
        entries += 1
        item = _atom_entry(element, f"{origin}: entry {entries}")
        if repaired and isinstance(item, Record) and _has_replacement(item):
            item = BadRecord(SOURCE, item.position, "invalid UTF-8 in the record")
        items.append(item)
    if error:
        items.append(BadRecord(SOURCE, f"{origin}: after entry {entries}", error))
    return AtomPage(items, total, entries, complete=error is None)


def _atom_entry(entry: ET.Element, position: str) -> Item:
    """One Atom <entry> as a Record, or why it cannot be one."""
    abs_url = _text(entry, _ATOM + "id")
    if "/api/errors" in abs_url:  # the API reports bad queries as a one-entry feed
        message = _text(entry, _ATOM + "summary") or "unknown error"
        return BadRecord(SOURCE, position, f"arXiv API error: {message}")
    arxiv_id = normalise_arxiv_id(abs_url)
    if arxiv_id is None:
        return BadRecord(SOURCE, position, f"no arXiv id in <id> {abs_url[:200]!r}")
    published = _text(entry, _ATOM + "published")
    try:
        published_on = _iso_date(published) if published else None
    except ValueError:
        return BadRecord(SOURCE, position, f"bad <published> date {published[:50]!r}")
    abstract = _text(entry, _ATOM + "summary")
    comment = _text(entry, _ARXIV_ATOM + "comment")
    primary = entry.find(_ARXIV_ATOM + "primary_category")
    terms = [primary.get("term", "")] if primary is not None else []
    terms += [c.get("term", "") for c in entry.findall(_ATOM + "category")]
    categories = tuple(dict.fromkeys(term for term in terms if term))
    authors = tuple(_text(a, _ATOM + "name") for a in entry.findall(_ATOM + "author"))
    pdf = next(
        (link.get("href") for link in entry.findall(_ATOM + "link") if link.get("title") == "pdf"),
        None,
    )
    doi = _text(entry, _ARXIV_ATOM + "doi") or None
    title = _text(entry, _ATOM + "title")
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
        "updated": _text(entry, _ATOM + "updated"),
        "doi": doi,
        "comment": comment or None,
        "journal_ref": _text(entry, _ARXIV_ATOM + "journal_ref") or None,
        "categories": list(categories),
        "pdf": pdf,
    }
    return Record(paper, SOURCE, arxiv_id, position, raw)


# ---------------------------------------------------------------- OAI-PMH harvest


@dataclass(frozen=True)
class OaiPage:
    """One ListRecords response."""

    items: list[Item]
    # The token for the next page; None on the last page (an empty token element).
    resumption_token: str | None
    # <responseDate>: the repository's clock. The next incremental harvest starts
    # from this day (see ArxivClient.harvest).
    response_date: datetime | None
    # Records marked <header status="deleted">: skipped, but counted.
    deleted: int = 0
    # The OAI-PMH <error> other than noRecordsMatch (badResumptionToken …), if any.
    error: str | None = None
    # False when the XML was cut off or broken (then there is no token to follow).
    complete: bool = True
    complete_list_size: int | None = None


def parse_oai(data: bytes, origin: str) -> OaiPage:
    """Parse one OAI-PMH ListRecords response (metadataPrefix arXiv or arXivRaw)."""
    data, repaired = _repair_utf8(data)
    wanted = {_OAI + tag for tag in ("record", "resumptionToken", "responseDate", "error")}
    elements, xml_error = _elements(data, wanted)
    items: list[Item] = []
    token: str | None = None
    response_date: datetime | None = None
    list_size: int | None = None
    deleted = 0
    records = 0
    for element in elements:
        tag = element.tag.removeprefix(_OAI)
        if tag == "responseDate":
            try:
                response_date = datetime.fromisoformat((element.text or "").strip())
            except ValueError:
                response_date = None
        elif tag == "error":
            code = element.get("code", "")
            if code == "noRecordsMatch":  # an empty harvest, not a failure
                continue
            message = f"OAI-PMH error {code}: {(element.text or '').strip()}"
            return OaiPage([BadRecord(SOURCE, origin, message)], None, response_date, error=message)
        elif tag == "resumptionToken":
            token = (element.text or "").strip() or None
            size = element.get("completeListSize", "")
            list_size = int(size) if size.isdigit() else None
        else:
            records += 1
            header_element = element.find(_OAI + "header")
            if header_element is not None and header_element.get("status") == "deleted":
                deleted += 1
                continue
            item = _oai_record(element, f"{origin}: record {records}")
            if repaired and isinstance(item, Record) and _has_replacement(item):
                item = BadRecord(SOURCE, item.position, "invalid UTF-8 in the record")
            items.append(item)
    if xml_error:
        items.append(BadRecord(SOURCE, f"{origin}: after record {records}", xml_error))
        token = None  # it sits at the end of the page: anything seen before is suspect
    return OaiPage(
        items,
        token,
        response_date,
        deleted=deleted,
        complete=xml_error is None,
        complete_list_size=list_size,
    )


def _oai_record(record: ET.Element, position: str) -> Item:
    """One OAI <record> in the arXiv or arXivRaw format."""
    header_element = record.find(_OAI + "header")
    identifier = _text(header_element, _OAI + "identifier")
    metadata = record.find(_OAI + "metadata")
    if metadata is None or len(metadata) == 0:
        return BadRecord(SOURCE, position, f"record {identifier!r} has no metadata")
    body = metadata[0]
    oai_raw: dict[str, Any] = {
        "identifier": identifier,
        "datestamp": _text(header_element, _OAI + "datestamp"),
        "sets": [s.text or "" for s in header_element.findall(_OAI + "setSpec")]
        if header_element is not None
        else [],
    }
    if body.tag == _ARXIV_OAI + "arXiv":
        return _arxiv_format(body, position, oai_raw)
    if body.tag == _ARXIV_RAW + "arXivRaw":
        return _arxiv_raw_format(body, position, oai_raw)
    return BadRecord(SOURCE, position, f"unsupported metadata format {body.tag!r}")


def _common_fields(body: ET.Element, ns: str) -> dict[str, Any]:
    """The elements arXiv and arXivRaw share, as provenance."""
    names = ("id", "title", "categories", "comments", "journal-ref", "doi", "license", "abstract")
    return {name.replace("-", "_"): _text(body, ns + name) or None for name in names}


def _paper_from(common: dict[str, Any], authors: list[str], published_on: date | None) -> Paper:
    abstract = common["abstract"] or ""
    # Several DOIs are space-separated; the first is the published version.
    doi = (common["doi"] or "").split()
    return Paper(
        title=common["title"] or "",
        abstract=abstract,
        arxiv_id=common["id"],
        doi=doi[0] if doi else None,
        authors=tuple(authors),
        published_on=published_on,
        github_url=find_github_url(abstract, common["comments"]),
        categories=tuple(dict.fromkeys((common["categories"] or "").split())),
    )


def _arxiv_format(body: ET.Element, position: str, oai_raw: dict[str, Any]) -> Item:
    ns = _ARXIV_OAI
    common = _common_fields(body, ns)
    arxiv_id = normalise_arxiv_id(common["id"])
    if arxiv_id is None:
        return BadRecord(SOURCE, position, f"bad arXiv id {common['id']!r}")
    authors = []
    for author in body.iterfind(f"{ns}authors/{ns}author"):
        parts = (_text(author, ns + tag) for tag in ("forenames", "keyname", "suffix"))
        authors.append(" ".join(part for part in parts if part))
    created = _text(body, ns + "created")
    try:
        published_on = date.fromisoformat(created) if created else None
    except ValueError:
        return BadRecord(SOURCE, position, f"bad <created> date {created[:50]!r}")
    raw = {
        "format": "arXiv",
        **oai_raw,
        **common,
        "authors": authors,
        "created": created or None,
        "updated": _text(body, ns + "updated") or None,
    }
    return Record(_paper_from(common, authors, published_on), SOURCE, arxiv_id, position, raw)


def _arxiv_raw_format(body: ET.Element, position: str, oai_raw: dict[str, Any]) -> Item:
    ns = _ARXIV_RAW
    common = _common_fields(body, ns)
    arxiv_id = normalise_arxiv_id(common["id"])
    if arxiv_id is None:
        return BadRecord(SOURCE, position, f"bad arXiv id {common['id']!r}")
    versions = [
        {
            "version": v.get("version", ""),
            "date": _text(v, ns + "date"),
            "size": _text(v, ns + "size"),
        }
        for v in body.findall(ns + "version")
    ]
    published_on = None
    if versions and versions[0]["date"]:
        try:  # "Mon, 2 Apr 2007 19:18:42 GMT": the first version's submission
            submitted = parsedate_to_datetime(versions[0]["date"])
            published_on = submitted.astimezone(UTC).date()
        except (TypeError, ValueError):
            return BadRecord(SOURCE, position, f"bad version date {versions[0]['date'][:50]!r}")
    author_text = _text(body, ns + "authors")
    authors = split_author_list(author_text)
    raw = {
        "format": "arXivRaw",
        **oai_raw,
        **common,
        "submitter": _text(body, ns + "submitter") or None,
        "authors": author_text,
        "versions": versions,
    }
    return Record(_paper_from(common, authors, published_on), SOURCE, arxiv_id, position, raw)


# ---------------------------------------------------------------- live client

_Page = TypeVar("_Page", AtomPage, OaiPage)


@dataclass
class ArxivClient:
    """A polite arXiv client: one request per `min_interval` seconds, retries with backoff."""

    http_get: HttpGet = urllib_get
    min_interval: float = 3.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    timeout: float = 60.0
    max_retries: int = 5
    # Backoff when the server gives no Retry-After: 5 s, 10 s, 20 s … capped at max_delay.
    backoff: float = 5.0
    max_delay: float = 600.0
    user_agent: str = USER_AGENT
    # After `harvest` is exhausted: the responseDate of its first page (see harvest).
    response_date: datetime | None = field(default=None, init=False)
    _last_request: float | None = field(default=None, init=False, repr=False)

    def harvest(
        self, set_spec: str | None, since: date | None, *, metadata_prefix: str = "arXiv"
    ) -> Iterator[Item]:
        """Yield every record of `set_spec` (e.g. "cs") changed since `since`, page by page.

        For incremental runs, store `client.response_date.date()` once the iterator is
        exhausted without an exception, and pass it as `since` next time: arXiv
        datestamps are days, so the overlap of one day is re-read and merges idempotently.
        Raises SourceUnavailable when the repository keeps failing or answers with an
        OAI-PMH error (the harvest is then incomplete and `since` must not advance).
        """
        self.response_date = None
        params = {"verb": "ListRecords", "metadataPrefix": metadata_prefix}
        if set_spec:
            params["set"] = set_spec
        if since:
            params["from"] = since.isoformat()
        url = f"{OAI_URL}?{urlencode(params)}"
        first_date: datetime | None = None
        while True:
            page = self._fetch_page(url, parse_oai)
            if page.error:
                raise SourceUnavailable(f"{url}: {page.error}")
            first_date = first_date or page.response_date
            yield from page.items
            if not page.resumption_token:
                break
            params = {"verb": "ListRecords", "resumptionToken": page.resumption_token}
            url = f"{OAI_URL}?{urlencode(params)}"
        self.response_date = first_date

    def search(self, query: str, max_results: int = 100, *, page_size: int = 100) -> Iterator[Item]:
        """Yield up to `max_results` hits of an arXiv API query, newest submissions first."""
        start = 0
        while start < max_results:
            params = {
                "search_query": query,
                "start": start,
                "max_results": min(page_size, max_results - start),
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            }
            page = self._fetch_page(f"{API_URL}?{urlencode(params)}", parse_atom)
            yield from page.items
            start += page.entries
            total = page.total_results
            if page.entries == 0 or (total is not None and start >= total):
                break

    def _fetch_page(self, url: str, parse: Callable[[bytes, str], _Page]) -> _Page:
        """GET and parse one page; a cut-off body is retried like a 503."""
        for attempt in range(self.max_retries + 1):
            page = parse(self._get(url), url)
            if page.complete:
                return page
            if attempt < self.max_retries:
                self.sleep(self._backoff_delay(attempt))
        raise SourceUnavailable(f"{url}: malformed response after {self.max_retries + 1} attempts")

    def _get(self, url: str) -> bytes:
        """GET `url`, waiting our turn, retrying 429/5xx and network errors with backoff."""
        headers = {"User-Agent": self.user_agent}
        for attempt in range(self.max_retries + 1):
            self._wait_turn()
            try:
                response = self.http_get(url, headers, self.timeout)
            except OSError as exc:
                problem, delay = f"network error: {exc}", self._backoff_delay(attempt)
            else:
                if 200 <= response.status < 300:
                    return response.body
                if response.status not in (429, 500, 502, 503, 504):
                    raise SourceUnavailable(f"{url}: HTTP {response.status}")
                problem = f"HTTP {response.status}"
                retry_after = _retry_after(response.headers)
                delay = self._backoff_delay(attempt) if retry_after is None else retry_after
            if attempt == self.max_retries:
                raise SourceUnavailable(f"{url}: {problem} after {attempt + 1} attempts")
            self.sleep(min(delay, self.max_delay))
        raise AssertionError("unreachable")  # the loop returns or raises

    def _wait_turn(self) -> None:
        """Sleep until `min_interval` has passed since the previous request started."""
        if self._last_request is not None:
            wait = self._last_request + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    def _backoff_delay(self, attempt: int) -> float:
        return min(self.backoff * 2**attempt, self.max_delay)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds; arXiv sends seconds, so an HTTP-date falls back to backoff."""
    value = (header(headers, "Retry-After") or "").strip()
    return float(value) if value.isdigit() else None
