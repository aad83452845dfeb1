"""Reading input files: plain or gzip-compressed, told apart by content, not by name.

Researchers keep big dumps compressed (`arxiv-metadata-oai-snapshot.json.gz`,
`works.jsonl.gz`); every file reader opens them through here, so any format may
be gzipped. The gzip magic bytes decide, so a mis-named file still reads.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
# A whole-file reader refuses to inflate more than this: a small .gz can expand
# to terabytes (a "zip bomb"); streaming readers (JSONL) need no such cap.
MAX_INFLATED = 2 << 30


class TooLarge(ValueError):
    """A compressed file that inflates beyond MAX_INFLATED."""


def is_gzip(path: str | Path) -> bool:
    with Path(path).open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_binary(path: str | Path) -> BinaryIO:
    """The file's bytes as a stream, decompressed when it is gzip."""
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return Path(path).open("rb")


def read_bytes(path: str | Path, *, limit: int = MAX_INFLATED) -> bytes:
    """The whole file, decompressed when it is gzip; raises TooLarge past `limit`."""
    if not is_gzip(path):
        return Path(path).read_bytes()
    with gzip.open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"{path}: inflates to more than {limit} bytes")
    return data


def display_name(path: str | Path) -> str:
    """The name a file is reported under: its name without a trailing .gz."""
    return Path(path).name.removesuffix(".gz")
