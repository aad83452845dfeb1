"""arXiv's OAI-PMH ListRecords responses (`arXiv` and `arXivRaw` formats): bytes in, records out.

Documentation: https://info.arxiv.org/help/oa/index.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree import ElementTree as ET

from paperfeed.model import BadRecord, Item, Paper, Record, normalise_arxiv_id
from paperfeed.sources.arxiv.common import SOURCE, elements, has_replacement, repair_utf8, text_of
from paperfeed.sources.text import find_github_url, split_author_list

_OAI = "{http://www.openarchives.org/OAI/2.0/}"
_ARXIV_OAI = "{http://arxiv.org/OAI/arXiv/}"
_ARXIV_RAW = "{http://arxiv.org/OAI/arXivRaw/}"
# arXiv answers a set it does not have with noRecordsMatch, not badArgument:
# "Set argument doesn't match any sets. The setSpec was 'moo'". That is a mistyped
# --set (harvesting nothing for ever), so it is an error, unlike a quiet day.
_UNKNOWN_SET = re.compile(r"match any sets|setspec was", re.IGNORECASE)
SET_HINT = (
    "arXiv sets are archives such as cs, math, physics:hep-th or econ;"
    " categories such as cs.LG are not sets"
)


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
    # The OAI-PMH <error> (badResumptionToken, an unknown set …), if any; a plain
    # noRecordsMatch (nothing changed since `from`) is an empty page, not an error.
    error: str | None = None
    # False when the XML was cut off or broken (then there is no token to follow).
    complete: bool = True
    complete_list_size: int | None = None


def parse_oai(data: bytes, origin: str) -> OaiPage:
    """Parse one OAI-PMH ListRecords response (metadataPrefix arXiv or arXivRaw)."""
    data, repaired = repair_utf8(data)
    wanted = {_OAI + tag for tag in ("record", "resumptionToken", "responseDate", "error")}
    found, xml_error = elements(data, wanted)
    items: list[Item] = []
    token: str | None = None
    response_date: datetime | None = None
    list_size: int | None = None
    deleted = 0
    records = 0
    for element in found:
        tag = element.tag.removeprefix(_OAI)
        if tag == "responseDate":
            try:
                response_date = datetime.fromisoformat((element.text or "").strip())
            except ValueError:
                response_date = None
        elif tag == "error":
            code = element.get("code", "")
            detail = (element.text or "").strip()
            if code == "noRecordsMatch" and not _UNKNOWN_SET.search(detail):
                continue  # nothing changed since `from`: an empty harvest, not a failure
            message = f"OAI-PMH error {code}: {detail}"
            if code == "noRecordsMatch":
                message += f" ({SET_HINT})"
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
            if repaired and isinstance(item, Record) and has_replacement(item):
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
    identifier = text_of(header_element, _OAI + "identifier")
    metadata = record.find(_OAI + "metadata")
    if metadata is None or len(metadata) == 0:
        return BadRecord(SOURCE, position, f"record {identifier!r} has no metadata")
    body = metadata[0]
    oai_raw: dict[str, Any] = {
        "identifier": identifier,
        "datestamp": text_of(header_element, _OAI + "datestamp"),
        "sets": [s.text or "" for s in header_element.findall(_OAI + "setSpec")]
        if header_element is not None
        else [],
    }
    if body.tag == _ARXIV_OAI + "arXiv":
        return _arxiv_format(body, position, oai_raw)
    if body.tag == _OAI + "arXiv":  # <arXiv> without its xmlns inherits OAI's (seen edited)
        return _arxiv_format(body, position, oai_raw, ns=_OAI)
    if body.tag == _ARXIV_RAW + "arXivRaw":
        return _arxiv_raw_format(body, position, oai_raw)
    return BadRecord(SOURCE, position, f"unsupported metadata format {body.tag!r}")


def _common_fields(body: ET.Element, ns: str) -> dict[str, Any]:
    """The elements arXiv and arXivRaw share, as provenance."""
    names = ("id", "title", "categories", "comments", "journal-ref", "doi", "license", "abstract")
    return {name.replace("-", "_"): text_of(body, ns + name) or None for name in names}


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


def _arxiv_format(
    body: ET.Element, position: str, oai_raw: dict[str, Any], ns: str = _ARXIV_OAI
) -> Item:
    common = _common_fields(body, ns)
    arxiv_id = normalise_arxiv_id(common["id"])
    if arxiv_id is None:
        return BadRecord(SOURCE, position, f"bad arXiv id {common['id']!r}")
    authors = []
    for author in body.iterfind(f"{ns}authors/{ns}author"):
        parts = (text_of(author, ns + tag) for tag in ("forenames", "keyname", "suffix"))
        authors.append(" ".join(part for part in parts if part))
    created = text_of(body, ns + "created")
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
        "updated": text_of(body, ns + "updated") or None,
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
            "date": text_of(v, ns + "date"),
            "size": text_of(v, ns + "size"),
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
    author_text = text_of(body, ns + "authors")
    authors = split_author_list(author_text)
    raw = {
        "format": "arXivRaw",
        **oai_raw,
        **common,
        "submitter": text_of(body, ns + "submitter") or None,
        "authors": author_text,
        "versions": versions,
    }
    return Record(_paper_from(common, authors, published_on), SOURCE, arxiv_id, position, raw)
