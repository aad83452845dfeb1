"""What the arXiv Atom and OAI-PMH parsers share: the source name and XML handling."""

from __future__ import annotations

import re
from datetime import date, datetime
from xml.etree import ElementTree as ET

from paperfeed.model import Record

SOURCE = "arxiv"

_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def text_of(element: ET.Element | None, path: str) -> str:
    """The stripped text of the first `path` under `element`, or ""."""
    found = element.find(path) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def repair_utf8(data: bytes) -> tuple[bytes, bool]:
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


def has_replacement(item: Record) -> bool:
    paper = item.paper
    texts = (paper.title, paper.abstract, *paper.authors)
    return any("\ufffd" in text for text in texts)


def elements(data: bytes, wanted: set[str]) -> tuple[list[ET.Element], str | None]:
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


def iso_date(value: str) -> date:
    """The calendar day of an ISO date or timestamp, as written ("2024-01-02T22:00:00-05:00").

    Not converted to UTC: the day arXiv itself shows for the paper is the one written.
    """
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value).date()
