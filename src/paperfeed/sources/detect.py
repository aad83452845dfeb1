"""Which reader a file needs, from its first bytes (for `paperfeed ingest auto`).

Decided by content, never by the file name alone: JSON shapes by their field
names (Kaggle snapshot, OpenAlex, Semantic Scholar, CSL-JSON, Hugging Face, a
paperfeed export), XML by its root (arXiv Atom, OAI-PMH), then RIS tags, a
listing page's header, BibTeX entries. None when nothing fits: the caller says so
rather than guessing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from paperfeed.sources import csl_json, hf_daily, kaggle, openalex, ris, semantic_scholar
from paperfeed.sources.jsonfields import is_json_lines

# How much of a file detection reads (after decompression).
HEAD = 1 << 20

_BIB_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)


def detect(head: bytes) -> str | None:
    """The format (an `ingest` verb name) of a file beginning with `head`, or None."""
    text = head.decode("utf-8", "ignore").removeprefix("\ufeff").lstrip()
    if text.startswith(("{", "[")):
        return _json_format(text)
    if text.startswith("<"):
        start = text[:4000]
        if "<OAI-PMH" in start:
            return "oai"
        if "<feed" in start and "http://www.w3.org/2005/Atom" in start:
            return "atom"
        # Other markup (a README opening with HTML) may still hold BibTeX below.
    if ris.looks_like(text):
        return "ris"
    if any(line.strip() == "Daily Papers" for line in text[:1000].splitlines()[:15]):
        return "listing"
    if _BIB_ENTRY.search(text):
        return "bibtex"
    return None


def _json_format(text: str) -> str | None:
    if is_json_lines(text):
        first = json.loads(text.partition("\n")[0])
        return _record_format(first) or "jsonl"
    document = _first_value(text)
    if document is None:
        return None
    if isinstance(document, dict):
        if isinstance(document.get("body"), str) and "status_code" in document:
            return "atom"  # a recorded arXiv API response ({url, status_code, body})
        return _record_format(document) or ("csl-json" if "items" in document else None)
    return None


def _first_value(text: str) -> Any:
    """The whole document when the head holds it, else the first element of its list."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, list):
        return _list_format_probe(value[0]) if value else None
    if value is not None:
        return value
    if text.startswith("["):
        try:
            element, _ = json.JSONDecoder().raw_decode(text, re.match(r"\[\s*", text).end())
        except (ValueError, RecursionError):
            return None
        return _list_format_probe(element)
    return None


def _list_format_probe(element: Any) -> Any:
    # A collector's damaged daily list holds the Python repr of each entry.
    if isinstance(element, str) and element.startswith("{'paper'"):
        return {"paper": {}}
    return element


def _record_format(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if kaggle.looks_like(obj):
        return "kaggle"
    if openalex.looks_like(obj):
        return "openalex"
    if semantic_scholar.looks_like(obj):
        return "semantic-scholar"
    if isinstance(obj.get("paper"), dict) or (
        hf_daily.is_paper_object(obj)
        and any(k in obj for k in ("upvotes", "submittedOnDailyAt", "ai_summary", "discussionId"))
    ):
        return "hf-daily"
    if csl_json.looks_like(obj):
        return "csl-json"
    if "sources" in obj or "title" in obj:
        return "jsonl"
    return None
