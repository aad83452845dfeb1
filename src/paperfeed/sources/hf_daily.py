"""Hugging Face daily papers: `GET https://huggingface.co/api/daily_papers?date=YYYY-MM-DD`.

The response is a JSON list; each entry holds the paper (arXiv id, title, summary,
authors, upvotes, githubRepo, organization …). The day it entered the daily list
is `paper.submittedOnDailyAt` (since early 2025: the top-level `publishedAt` is
then the arXiv time, a day or more earlier); older responses only have the
top-level `publishedAt`, which was the listing time. Field names follow the public API as
read by huggingface_hub's `PaperInfo` and the Hub's OpenAPI description:

    [{"paper": {"id": "2401.01234", "title": …, "summary": …,
                "authors": [{"name": …}, …], "publishedAt": "2024-01-02T18:00:00.000Z",
                "upvotes": 42, "githubRepo": "https://github.com/…",
                "organization": {"name": …, "fullname": …}, …},
      "publishedAt": "2024-01-03T09:12:00.000Z", "title": …, "summary": …,
      "numComments": 3, "submittedBy": {…}}, …]

A single paper object as `GET /api/papers/{id}` returns it (the `paper` object above,
often with `ai_summary` and `ai_keywords`) is read too: one Record whose raw record
is {"paper": <the object>}, so those fields stay available to the pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from paperfeed.model import BadRecord, Item, Paper, Record
from paperfeed.sources import SourceUnavailable
from paperfeed.sources.http import USER_AGENT, HttpGet, urllib_get
from paperfeed.sources.jsonfields import Invalid, string

SOURCE = "hf_daily"
API_URL = "https://huggingface.co/api/daily_papers"

_WHITESPACE = re.compile(r"[ \t\n\r]*")


_Invalid = Invalid  # an entry that cannot become a Record; the message is the reason


class _NotAList(ValueError):
    """Valid JSON that is not the list of entries (the API's {"error": …} replies)."""


def download(
    day: date,
    *,
    http_get: HttpGet = urllib_get,
    timeout: float = 30.0,
    user_agent: str = USER_AGENT,
) -> tuple[str, bytes]:
    """Fetch one day's list: (the URL, the response body). Raises SourceUnavailable."""
    url = f"{API_URL}?{urlencode({'date': day.isoformat()})}"
    try:
        response = http_get(url, {"User-Agent": user_agent, "Accept": "application/json"}, timeout)
    except OSError as exc:
        raise SourceUnavailable(f"{url}: network error: {exc}") from exc
    if not 200 <= response.status < 300:
        raise SourceUnavailable(f"{url}: HTTP {response.status}")
    return url, response.body


def fetch(
    day: date,
    *,
    http_get: HttpGet = urllib_get,
    timeout: float = 30.0,
    user_agent: str = USER_AGENT,
) -> Iterator[Item]:
    """Fetch and parse one day's list; the request happens before this returns."""
    url, body = download(day, http_get=http_get, timeout=timeout, user_agent=user_agent)
    return parse(body, url)


def parse(data: bytes, origin: str) -> Iterator[Item]:
    """Parse a daily_papers response; bad entries become BadRecords, the rest still come."""
    try:
        text, damaged = data.decode("utf-8"), False
    except UnicodeDecodeError:
        # Keep the bad bytes as lone surrogates so only the entries holding them are lost.
        text, damaged = data.decode("utf-8", "surrogateescape"), True
    number = 0
    try:
        for number, entry in enumerate(_array_elements(text), start=1):
            position = f"{origin}: entry {number}"
            if damaged and _has_surrogates(entry):
                yield BadRecord(SOURCE, position, "invalid UTF-8 in the entry")
                continue
            try:
                yield _entry(entry, position)
            except _Invalid as exc:
                yield BadRecord(SOURCE, position, str(exc))
    except _NotAList as exc:
        yield BadRecord(SOURCE, origin, str(exc))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError; RecursionError: absurd nesting
        reason = f"malformed JSON, nothing read from here on ({exc})"
        yield BadRecord(SOURCE, f"{origin}: entry {number + 1}", reason)


def _array_elements(text: str) -> Iterator[Any]:
    """The elements of a top-level JSON array, one by one.

    Decoding element by element means a truncated download still yields every
    entry before the cut, then raises ValueError where the damage starts.
    """
    decoder = json.JSONDecoder()
    at = _WHITESPACE.match(text).end()
    if not text.startswith("[", at):
        value = json.loads(text)  # raises for garbage; a valid non-list is reported below
        if is_paper_object(value):  # GET /api/papers/{id}: one paper, no list around it
            yield value
            return
        detail = f": {value.get('error')}" if isinstance(value, dict) and "error" in value else ""
        raise _NotAList(f"expected a list of entries, got {type(value).__name__}{detail}")
    at = _WHITESPACE.match(text, at + 1).end()
    if text.startswith("]", at):
        return
    while True:
        value, at = decoder.raw_decode(text, at)
        yield value
        at = _WHITESPACE.match(text, at).end()
        if text.startswith(",", at):
            at = _WHITESPACE.match(text, at + 1).end()
        elif text.startswith("]", at):
            break
        else:
            raise ValueError(f"expected ',' or ']' at character {at}")
    if text[at + 1 :].strip():
        raise ValueError(f"extra data after the list at character {at + 1}")


def _has_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return any("\udc80" <= ch <= "\udcff" for ch in value)
    if isinstance(value, dict):
        return any(_has_surrogates(k) or _has_surrogates(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogates(v) for v in value)
    return False


def is_paper_object(value: Any) -> bool:
    """True for a bare paper object (`/api/papers/{id}`), as opposed to a list entry."""
    return (
        isinstance(value, dict)
        and "paper" not in value
        and isinstance(value.get("id"), str)
        and ("summary" in value or "title" in value)
        and isinstance(value.get("authors", []), list)
    )


def _entry(entry: Any, position: str) -> Record:
    """One daily-list entry (or bare paper object) as a Record; raises _Invalid otherwise."""
    if is_paper_object(entry):
        # A bare paper: its publishedAt is the arXiv time, not a listing; keep it
        # whole in the raw record (ai_summary, ai_keywords …) under "paper".
        entry = {"paper": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("paper"), dict):
        raise _Invalid("entry without a paper object")
    paper = entry["paper"]
    paper_id = string(paper, "id").strip()
    if not paper_id:
        raise _Invalid("paper without an id")
    authors = paper.get("authors") or []
    if not isinstance(authors, list):
        raise _Invalid("paper.authors is not a list")
    names = tuple(
        author["name"]
        for author in authors
        if isinstance(author, dict) and isinstance(author.get("name"), str)
    )
    organization = paper.get("organization") or entry.get("organization")
    org_name = None
    if isinstance(organization, dict):
        org_name = string(organization, "fullname") or string(organization, "name") or None
    upvotes = paper.get("upvotes", 0)
    # The API's schema says "number"; accept 12.0 but not 1.5, "12" or true.
    if isinstance(upvotes, float) and upvotes.is_integer():
        upvotes = int(upvotes)
    if not isinstance(upvotes, int) or isinstance(upvotes, bool):
        raise _Invalid(f"paper.upvotes is not a whole number: {upvotes!r}")
    # Since early 2025 the entry's own publishedAt is the arXiv time; the day the
    # paper entered the list is paper.submittedOnDailyAt. Older responses lack it.
    listed_name = "paper.submittedOnDailyAt" if paper.get("submittedOnDailyAt") else "publishedAt"
    listed = paper.get("submittedOnDailyAt") or entry.get("publishedAt")
    record_paper = Paper(
        title=string(paper, "title") or string(entry, "title"),
        abstract=string(paper, "summary") or string(entry, "summary"),
        arxiv_id=paper_id,
        authors=names,
        organization=org_name,
        published_on=_day(paper.get("publishedAt"), "paper.publishedAt"),
        listed_on=_day(listed, listed_name),
        github_url=string(paper, "githubRepo") or None,
        upvotes=upvotes,
    )
    return Record(record_paper, SOURCE, paper_id, position, entry)


def _day(value: Any, name: str) -> date | None:
    """The calendar day of an ISO timestamp as written ("2024-01-02T18:00:00.000Z": Jan 2)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{name} is not a string: {type(value).__name__}")
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        raise _Invalid(f"bad {name} date {value[:50]!r}") from None
