"""The real-world files in ../shared/realdata (read in place, never copied), and helpers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from paperfeed.model import BadRecord, Item, Record, checked
from tests.conftest import SHARED

REALDATA = SHARED / "realdata"


def files(kind: str, pattern: str = "*") -> list[Path]:
    """The real files of one kind (a folder of realdata), sorted by name."""
    return sorted((REALDATA / kind).glob(pattern))


def split(items: Iterable[Item]) -> tuple[list[Record], list[BadRecord]]:
    """Validated items, as (accepted, rejected)."""
    good: list[Record] = []
    bad: list[BadRecord] = []
    for item in checked(items):
        (good if isinstance(item, Record) else bad).append(item)  # type: ignore[arg-type]
    return good, bad


def by_key(records: Iterable[Record]) -> dict[str, Record]:
    return {record.external_key: record for record in records}


def arxiv_api_body(path: Path) -> bytes:
    """The bytes arXiv sent: the 2026 recordings hold them as a Latin-1-decoded string."""
    data = path.read_bytes()
    if path.suffix == ".json":
        return json.loads(data)["body"].encode("latin-1")
    return data


# Counting without the parsers: what a file holds, by the simplest reading of its format.
_BIB_BLOCK = re.compile(r"^\s*@\s*(\w+)\s*[{(]", re.MULTILINE)


def count_bib_entries(text: str) -> int:
    """Entries of a .bib file: every @type{ … } that is not @string/@comment/@preamble."""
    kinds = (m.group(1).lower() for m in _BIB_BLOCK.finditer(text))
    return sum(kind not in ("string", "comment", "preamble") for kind in kinds)


def count_xml(data: bytes, tag: bytes) -> int:
    return len(re.findall(rb"<" + tag + rb"[\s>]", data))
