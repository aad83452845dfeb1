"""What the JSON-shaped sources share: typed field access, JSON Lines and JSON documents.

CSL-JSON, OpenAlex, Semantic Scholar and the Kaggle snapshot come either as one JSON
document (a list, an API wrapper such as {"results": […]} / {"data": […]}, or one
object) or as JSON Lines (one object per line, how the bulk dumps ship). `elements`
accepts both, so each reader only turns one decoded object into a Record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from paperfeed.model import DAY, YEAR, BadRecord, Item
from paperfeed.sources.files import open_binary, read_bytes
from paperfeed.sources.text import partial_date

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# orjson reads integers of up to 64 bits exactly and larger ones as floats (json
# keeps them whole): a line with a run of 19+ digits is left to json. Found by
# turning every digit into "0" and looking for 19 of them: ~40x cheaper than the
# pattern [0-9]{19}, which Python's regex engine tries at every byte.
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def load_line(line: bytes) -> tuple[Any, str | None]:
    """One JSON line decoded, and the line itself as the JSON to store when that is safe.

    orjson is ~5x faster than json on snapshot lines and strict: it refuses NaN,
    Infinity, invalid UTF-8 and lone surrogates, all of which jsonb refuses too. A
    line it decodes is therefore storable as written (only an escaped NUL and the
    size remain for `model.checked`), and the second string is that line: the
    catalogue need not encode the record again. Anything orjson refuses (or might
    read differently: huge integers) is decoded by json exactly as before, with
    None for the stored JSON; its errors are json's (UnicodeDecodeError,
    ValueError, RecursionError).
    """
    if _LONG_DIGITS not in line.translate(_DIGITS_TO_ZERO):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
        else:
            return value, line.decode("utf-8").strip()
    return json.loads(line.decode("utf-8")), None


class Invalid(ValueError):
    """A field (or a whole object) that cannot become a Record; the message is the reason."""


def string(obj: Mapping[str, Any], key: str) -> str:
    """obj[key] as a string ("" when absent or null); other types are an error."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{key} is not a string: {type(value).__name__}")
    return value


def whole_number(obj: Mapping[str, Any], key: str) -> int | None:
    """obj[key] as an int (12.0 counts; 1.5, "12" and true do not), None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(f"{key} is not a whole number: {value!r:.40}")
    return value


def mapping(obj: Mapping[str, Any], key: str) -> dict[str, Any]:
    """obj[key] as a dict ({} when absent or null)."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"{key} is not an object: {type(value).__name__}")
    return value


def sequence(obj: Mapping[str, Any], key: str) -> list[Any]:
    """obj[key] as a list ([] when absent or null)."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"{key} is not a list: {type(value).__name__}")
    return value


def read_path(
    path: str | Path,
    origin: str,
    parse_document: Callable[[bytes, str], Iterator[Item]],
    parse_lines: Callable[[Iterable[bytes], str], Iterator[Item]],
) -> Iterator[Item]:
    """Read a file (plain or gzip): JSON Lines are streamed, a JSON document read whole."""
    with open_binary(path) as handle:
        head = handle.read(1 << 16)
    if is_json_lines(head.decode("utf-8", "ignore")):
        with open_binary(path) as handle:
            yield from parse_lines(handle, origin)
        return
    yield from parse_document(read_bytes(path), origin)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape").removeprefix("\ufeff")


def is_json_lines(text: str) -> bool:
    """True when the first non-blank line is a complete JSON object and more text follows."""
    first, _, rest = text.lstrip().partition("\n")
    if not first.startswith("{") or not rest.strip():
        return False
    try:
        return isinstance(json.loads(first), dict)
    except (ValueError, RecursionError):
        return False


def elements(
    data: bytes,
    origin: str,
    source: str,
    unwrap: Callable[[dict[str, Any]], list[Any] | None],
) -> Iterator[tuple[str, Any] | BadRecord]:
    """(position, decoded object) for every record of a JSON document or JSON Lines.

    `unwrap` turns a top-level object into its records (an API wrapper's list), or
    returns None when the object is itself one record. Undecodable parts become
    BadRecords; a damaged document yields every record before the damage.
    """
    text = _decode(data)
    if is_json_lines(text):
        yield from lines(text.split("\n"), origin, source)
        return
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        yield BadRecord(source, origin, f"malformed JSON ({exc})")
        return
    if isinstance(value, dict):
        inner = unwrap(value)
        value = [value] if inner is None else inner
    if not isinstance(value, list):
        yield BadRecord(source, origin, f"expected records, got {type(value).__name__}")
        return
    for number, element in enumerate(value, start=1):
        yield f"{origin}: record {number}", element


def lines(
    raw_lines: Iterable[str | bytes], origin: str, source: str
) -> Iterator[tuple[str, Any] | BadRecord]:
    """(position, decoded object) per non-blank JSON line; bad lines become BadRecords."""
    for number, line in enumerate(raw_lines, start=1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield BadRecord(source, f"{origin}: line {number}", f"invalid UTF-8 at {exc.start}")
                continue
        if number == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        position = f"{origin}: line {number}"
        try:
            yield position, json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield BadRecord(source, position, f"invalid JSON ({exc})")


def records(
    found: Iterable[tuple[str, Any] | BadRecord],
    source: str,
    make: Callable[[Any, str], Item],
) -> Iterator[Item]:
    """Apply `make(obj, position)` to each decoded record; Invalid becomes a BadRecord."""
    for entry in found:
        if isinstance(entry, BadRecord):
            yield entry
            continue
        position, obj = entry
        if not isinstance(obj, dict):
            yield BadRecord(source, position, f"expected an object, got {type(obj).__name__}")
            continue
        try:
            yield make(obj, position)
        except Invalid as exc:
            yield BadRecord(source, position, str(exc))


def published(written: str, year: int | None, name: str) -> tuple[date | None, str]:
    """(date, precision) from an ISO-like date field, else from a year; raises Invalid."""
    try:
        if written:
            found = partial_date(written)
            if found is None:
                raise Invalid(f"bad {name} {written[:40]!r}")
            return found
        if year is not None:
            if not 0 < year < 10_000:
                raise Invalid(f"bad year {year}")
            return date(year, 1, 1), YEAR
    except Invalid:
        raise
    except ValueError:
        raise Invalid(f"impossible {name} {written[:40]!r}") from None
    return None, DAY
