"""Plain-text copies of Hugging Face "Daily Papers" listing pages.

A page starts with a short header ending in the page's own date ("Dec 11").
Then come cards: a title line, an abstract line, and usually a metadata block
of three lines:

    • 6 authors            (or an organisation: "facebook AI at Meta")
    ·
    Sep 27, 2023 5         (the year is left out for the page's own year;
                            an upvote count may follow the date)

Some cards have no metadata block, so the title/abstract lines between two
blocks are paired up, and the block belongs to the last card before it.
Dates without a year are placed in the latest year that does not put the
card after the page date, counting from `listing_year` (the year the page
was captured).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath

from paperfeed.model import BadRecord, Item, Paper, Record

SOURCE = "listing"

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_DATE = re.compile(
    r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" ([0-9]{1,2})(?:, ([0-9]{4}))?(?: ([0-9]+))?$"
)
_AUTHORS = re.compile(r"^•\s*([0-9]+)\s+authors?$")
_HEADER = (
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
)
NOT_A_LISTING = (
    "not a Daily Papers listing page: it does not start with the page header"
    " ('Daily Papers', 'byAK and the research community', the page date)"
)
# Counts longer than this are no count (and int() of thousands of digits raises).
_MAX_COUNT_DIGITS = 9
# A title is one line; real ones stay far below this. Longer lines are abstracts.
_TITLE_MAX = 300


@dataclass
class _Line:
    number: int
    text: str


@dataclass
class _Card:
    title: _Line
    abstract: _Line | None
    meta: _Line | None = None
    date_line: _Line | None = None


def _decode_lines(data: bytes, origin: str) -> tuple[list[_Line], list[BadRecord]]:
    """Non-blank stripped lines with their numbers; undecodable lines are reported."""
    lines: list[_Line] = []
    bad: list[BadRecord] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            bad.append(BadRecord(SOURCE, f"{origin}:{number}", f"invalid UTF-8 ({exc.reason})"))
            text = raw.decode("utf-8", "replace").strip()
        if text:
            lines.append(_Line(number, text))
    return lines, bad


def _page_date(lines: list[_Line], listing_year: int) -> tuple[date | None, int]:
    """The page's own date and the index of the first card line."""
    index = 0
    while index < len(lines) and index < len(_HEADER) and lines[index].text in _HEADER:
        index += 1
    if index < len(lines):
        match = _DATE.match(lines[index].text)
        if match and not match.group(3) and not match.group(4):
            try:
                return date(listing_year, _MONTHS[match.group(1)], int(match.group(2))), index + 1
            except ValueError:
                return None, index + 1
    return None, index


def infer_year(month: int, day: int, page: date) -> date:
    """The latest date with this month and day that is not after the page date."""
    year = page.year if (month, day) <= (page.month, page.day) else page.year - 1
    for candidate in range(year, year - 8, -1):  # Feb 29 needs a leap year
        try:
            return date(candidate, month, day)
        except ValueError:
            continue
    raise ValueError(f"no valid date for {month}/{day}")


def parse_date(text: str, page: date) -> tuple[date, int]:
    """(date, upvotes) from a card's date line; raises ValueError when it is no real date."""
    match = _DATE.match(text)
    if not match:
        raise ValueError(f"not a date: {text!r}")
    month, day = _MONTHS[match.group(1)], int(match.group(2))
    votes = match.group(4) or "0"
    if len(votes) > _MAX_COUNT_DIGITS:
        raise ValueError(f"upvote count of {len(votes)} digits")
    upvotes = int(votes)
    if match.group(3):
        try:
            return date(int(match.group(3)), month, day), upvotes
        except ValueError:
            raise ValueError(f"invalid date {text!r}") from None
    if not 1 <= day <= 31 or (month == 2 and day > 29) or (month in (4, 6, 9, 11) and day > 30):
        raise ValueError(f"invalid date {text!r}")
    return infer_year(month, day, page), upvotes


def _meta_fields(meta: str) -> tuple[int | None, str | None]:
    """(author count, organisation) from the line before the "·" separator."""
    match = _AUTHORS.match(meta)
    if match:
        if len(match.group(1)) > _MAX_COUNT_DIGITS:
            raise ValueError(f"author count of {len(match.group(1))} digits")
        return int(match.group(1)), None
    # Organisation lines read "<hub id> <display name>"; a one-word line is both.
    slug, _, name = meta.partition(" ")
    return None, (name.strip() or slug)


def _pair(content: list[_Line], origin: str) -> tuple[list[_Card], list[BadRecord]]:
    """Pair title and abstract lines; lines that fit no card are reported."""
    cards: list[_Card] = []
    bad: list[BadRecord] = []
    i = 0
    while i < len(content):
        line = content[i]
        if len(line.text) > _TITLE_MAX:
            bad.append(BadRecord(SOURCE, f"{origin}:{line.number}", "abstract without a title"))
            i += 1
            continue
        following = content[i + 1] if i + 1 < len(content) else None
        if (
            following is None
            or len(following.text) <= _TITLE_MAX
            and len(following.text) < 2 * len(line.text)
        ):
            bad.append(
                BadRecord(
                    SOURCE, f"{origin}:{line.number}", f"title without abstract: {line.text[:80]!r}"
                )
            )
            i += 1
            continue
        cards.append(_Card(line, following))
        i += 2
    return cards, bad


def _cards(lines: list[_Line], origin: str) -> tuple[list[_Card], list[BadRecord]]:
    cards: list[_Card] = []
    bad: list[BadRecord] = []
    content: list[_Line] = []
    i = 0
    while i < len(lines):
        is_meta = i + 2 < len(lines) and lines[i + 1].text == "·" and _DATE.match(lines[i + 2].text)
        if is_meta:
            paired, errors = _pair(content, origin)
            bad += errors
            if paired:
                paired[-1].meta, paired[-1].date_line = lines[i], lines[i + 2]
            else:
                bad.append(
                    BadRecord(SOURCE, f"{origin}:{lines[i].number}", "metadata without a card")
                )
            cards += paired
            content = []
            i += 3
            continue
        if lines[i].text == "·":
            bad.append(BadRecord(SOURCE, f"{origin}:{lines[i].number}", "stray '·' separator"))
        else:
            content.append(lines[i])
        i += 1
    paired, errors = _pair(content, origin)
    return cards + paired, bad + errors


def parse(data: bytes, origin: str, listing_year: int) -> Iterator[Item]:
    """Yield a Record per card and a BadRecord per piece of the page that is no card."""
    name = PurePath(origin).name
    if b"\x00" in data[:65536]:
        yield BadRecord(SOURCE, f"{origin}:1", "binary data, not a listing page")
        return
    lines, bad = _decode_lines(data, origin)
    page, start = _page_date(lines, listing_year)
    if not any(line.text == "Daily Papers" for line in lines[:start]):
        # Any text file would otherwise "parse": a README became papers titled "## Usage".
        yield BadRecord(SOURCE, f"{origin}:1", NOT_A_LISTING)
        return
    yield from bad
    if page is None:
        page = date(listing_year, 12, 31)
    cards, errors = _cards(lines[start:], origin)
    yield from errors
    for number, card in enumerate(cards, 1):
        position = f"{origin}:{card.title.number} (card {number})"
        published, upvotes = None, 0
        author_count, organization = None, None
        if card.date_line is not None:
            try:
                published, upvotes = parse_date(card.date_line.text, page)
            except ValueError as exc:
                yield BadRecord(SOURCE, position, str(exc))
                continue
        if card.meta is not None:
            try:
                author_count, organization = _meta_fields(card.meta.text)
            except ValueError as exc:
                yield BadRecord(SOURCE, position, str(exc))
                continue
        assert card.abstract is not None
        raw = {
            "page": name,
            "page_date": page.isoformat(),
            "card": number,
            "title": card.title.text,
            "abstract": card.abstract.text,
            "meta": card.meta.text if card.meta else None,
            "date": card.date_line.text if card.date_line else None,
        }
        paper = Paper(
            title=card.title.text,
            abstract=card.abstract.text,
            author_count=author_count,
            organization=organization,
            published_on=published,
            upvotes=upvotes,
        )
        yield Record(paper, SOURCE, f"{name}#{number}", position, raw)
