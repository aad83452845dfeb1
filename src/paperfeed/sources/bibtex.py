"""BibTeX (.bib) files, parsed with bibtexparser 2.

Field mapping:
- title, abstract: LaTeX decoded best-effort (accents, `{B}` case guards, `--`, `~`);
  math stays verbatim (`$x^2$`);
- author: split on " and " outside braces ("{Barnes and Noble}" is one author);
  "Last, First" and "Last, Jr, First" become "First Last [Jr]"; "others" and "et al."
  are dropped; unknown macros keep their text (`\\hyphen{}` is "-", `\\TeX` is "TeX");
- date (biblatex: YYYY, YYYY-MM, YYYY-MM-DD, or a range: its start) or year ("2023a":
  2023) + month (+ day) → published_on with its precision (year, month or day). A
  missing day or month is stored as the first (2021 → 2021-01-01, precision "year"),
  which a merge never lets override a more precise date;
- crossref: a child inherits the fields it lacks from its parent (title, date …);
- doi (URL and "doi:" prefixes and TeX escapes such as `\\_` removed); arXiv id from
  `eprint` (unless archivePrefix/eprinttype names another archive), an arxiv.org `url`,
  an arXiv DOI (10.48550/arXiv.…) or "arXiv:…" / "arxiv.org/abs/…" in journal, note,
  howpublished (braces ignored: "Ar{X}iv:1607.06450"); primaryClass → categories;
- every field is kept in `raw` (values over MAX_RAW_FIELD characters are replaced by a note).

Every entry type is accepted if it has a title. Unparseable blocks, duplicate keys or
fields, missing titles, impossible dates and invalid UTF-8 become BadRecords naming
the entry key and line. The external key is "<origin>#<citation key>": citation keys
are only unique within one file, so re-import a file under the same origin.
"""

from __future__ import annotations

import calendar
import codecs
import io
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from bibtexparser.middlewares.enclosing import RemoveEnclosingMiddleware
from bibtexparser.model import (
    Block,
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    ParsingFailedBlock,
    String,
)
from bibtexparser.splitter import Splitter
from pylatexenc.latex2text import (  # bibtexparser's own LaTeX decoder
    LatexNodes2Text,
    MacroTextSpec,
    get_default_latex_context_db,
)

from paperfeed.model import (
    DAY,
    MAX_ABSTRACT,
    MONTH,
    YEAR,
    BadRecord,
    Item,
    Paper,
    Record,
    normalise_arxiv_id,
)
from paperfeed.sources import files
from paperfeed.sources.text import find_arxiv_id, find_github_url, is_et_al

SOURCE = "bibtex"

# pylatexenc costs ~0.5 ms per field and grows with length, so it only sees fields
# holding a backslash, and never more than this: a longer field is too long to keep
# anyway (model.checked rejects it) and must not take minutes to reject.
MAX_DECODE = 2 * MAX_ABSTRACT
MAX_RAW_FIELD = MAX_ABSTRACT
# The reader keeps one entry in memory at a time; an entry longer than this is a bad
# record (only its head is kept), so a hostile file cannot make it hold the whole file.
MAX_ENTRY = 16_000_000
MAX_CHUNK = 1 << 20  # characters (or bytes) read at a time
CROSSREF_OVERLAP = 1024
_HEAD = 200  # characters of an unkept block kept to name it
_LOOKAHEAD = 256  # characters a block start `@type {` may span


def _unknown_macro(node: Any, l2t: LatexNodes2Text) -> str:
    """An unknown macro keeps its text: its arguments' text, else its own name.

    pylatexenc drops unknown macros, so `\\TeX`-like words vanished from titles
    ("The {\\TeX book}" became "The book") and titles stopped matching.
    """
    args = [arg for arg in (node.nodeargd.argnlist if node.nodeargd else []) if arg is not None]
    if args:
        return "".join(l2t.nodelist_to_text([arg]) for arg in args)
    following = node.parsing_state.s[node.pos + node.len :].lstrip()
    if following.startswith("{"):  # `\\foo{bar}`: the group that follows is the text
        return ""
    return node.macroname + node.macro_post_space


def _latex_context() -> Any:
    context = get_default_latex_context_db()
    names = {"TeX": "TeX", "LaTeX": "LaTeX", "LaTeXe": "LaTeX2e", "BibTeX": "BibTeX"}
    context.add_context_category(
        "paperfeed",
        prepend=True,
        # DBLP writes hyphens in compound words as \\hyphen{}.
        macros=[MacroTextSpec("hyphen", "-")]
        + [MacroTextSpec(name, text) for name, text in names.items()],
    )
    context.set_unknown_macro_spec(MacroTextSpec("", simplify_repl=_unknown_macro))
    return context


_LATEX = LatexNodes2Text(latex_context=_latex_context(), math_mode="verbatim")
# "~" is a tie (a non-breaking space), as pylatexenc renders it.
_NO_BRACES = str.maketrans({"{": None, "}": None, "~": "\xa0"})
_AND = re.compile(r"( and )", re.IGNORECASE)  # on whitespace-collapsed text
# A block start, as bibtexparser's splitter reads one: "@" and a type, then "{" or "(".
_BLOCK_START = re.compile(r"@\w*[ \t]*[{(]")
# Where bibtexparser ends even an unclosed block: a line starting with a block start.
_SEGMENT_START = re.compile(r"\n[^\S\n]*@\w*[ \t]*[{(]")
# Searched in lower-cased bytes: a literal prefix lets the regex engine skip ahead.
_CROSSREF = re.compile(rb"crossref\s*=\s*[{\"]?\s*([^\s,{}\"]+)")
_REMOVE_ENCLOSING = RemoveEnclosingMiddleware()
# What the decoder's surrogateescape makes of bytes that are not UTF-8.
_SURROGATE = re.compile("[\udc80-\udcff]")
# A piece this long whose braces do not balance cannot close: bibtexparser would
# report it after a slow mark-by-mark walk, so it is reported at once.
_COUNT_BRACES_FROM = 1 << 20
_BLOCK_KEY = re.compile(r"@\s*(\w+)\s*[{(]\s*([^,\s{}()=]+)")
# ASCII digits only: `\d` also matches "①" or "٢", which int() then refuses or misreads.
_BIBLATEX_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{1,2}))?(?:-([0-9]{1,2}))?", re.ASCII)
# A year, optionally with the suffix that tells apart one author's papers of a year ("2023a").
_YEAR = re.compile(r"([0-9]{4})[a-z]?", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_TEX_ESCAPE = re.compile(r"\\([_%#&$~])")
# Fields a crossref child never inherits from its parent.
_NOT_INHERITED = frozenset({"crossref", "entryset", "ids", "xdata", "related"})
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name}


class _Invalid(ValueError):
    """An entry that cannot become a Record; the message is the BadRecord reason."""


def read(path: str | Path, *, origin: str | None = None) -> Iterator[Item]:
    """Stream a .bib file (gzip or not) from disk; `origin` (default: the path) names it."""
    with files.open_binary(path) as handle:
        yield from read_stream(handle, origin or str(path))


def parse(data: bytes, origin: str) -> Iterator[Item]:
    """Parse .bib bytes into Records and BadRecords, in file order."""
    return read_stream(io.BytesIO(data), origin)


def read_stream(handle: BinaryIO, origin: str) -> Iterator[Item]:
    """Parse a binary .bib stream into Records and BadRecords, in file order, entry by entry.

    Memory stays bounded by the longest entry (at most MAX_ENTRY characters), not the
    file: a 100 MB file is read in MAX_CHUNK pieces. crossref parents may come after
    their children (BibTeX wants them last), so a first pass over the raw bytes finds
    the keys that are crossref targets and, only when there are any, a second pass
    keeps those parents' fields; the stream must therefore be seekable — one that is
    not is spooled to a temporary file first.
    """
    if not handle.seekable():
        spool = tempfile.TemporaryFile()  # noqa: SIM115 — closed by the finally below
        shutil.copyfileobj(handle, spool)
        handle = spool
        handle.seek(0)
    else:
        spool = None
    try:
        start = handle.tell()
        targets = _crossref_targets(handle)
        parents: dict[str, dict[str, str]] = {}
        if targets:
            handle.seek(start)
            for block, _, _ in _entries(handle, only=targets):
                if isinstance(block, Entry) and block.key.lower() in targets:
                    parents.setdefault(block.key.lower(), _field_dict(block))
        handle.seek(start)
        yield from _items(handle, origin, parents)
    finally:
        if spool is not None:
            spool.close()


def _items(handle: BinaryIO, origin: str, parents: dict[str, dict[str, str]]) -> Iterator[Item]:
    number = 0
    seen: set[str] = set()
    for block, line, reason in _entries(handle):
        number += 1
        key = block.key if isinstance(block, Entry) else _failed_key(block)
        position = f"{origin}: entry {number} {key!r} (line {line + 1})"
        if reason is None and isinstance(block, Entry) and block.key in seen:
            reason = f"duplicate entry key {block.key!r}"
        if reason is not None or not isinstance(block, Entry):
            yield BadRecord(SOURCE, position, reason or _failure_reason(block))
            continue
        seen.add(block.key)
        fields = _inherit(_field_dict(block), parents)
        if any(_has_surrogates(v) for v in (block.key, *fields.values())):
            yield BadRecord(SOURCE, position, "invalid UTF-8 in the entry")
            continue
        try:
            paper = _paper(fields)
        except _Invalid as exc:
            yield BadRecord(SOURCE, position, str(exc))
            continue
        raw = {"entry_type": block.entry_type, "key": block.key, "fields": _raw_fields(block)}
        yield Record(paper, SOURCE, f"{origin}#{block.key}", position, raw)


def _field_dict(entry: Entry) -> dict[str, str]:
    return {f.key.lower(): str(f.value) for f in entry.fields}


def _crossref_targets(handle: BinaryIO) -> set[str]:
    """The (lower-cased) keys named by some `crossref` field: one regex pass over raw bytes.

    Windows overlap by CROSSREF_OVERLAP bytes so a field cut by a chunk boundary is
    still seen whole once; a cut one may add a key prefix, which costs nothing.
    """
    targets: set[str] = set()
    tail = b""
    while chunk := handle.read(MAX_CHUNK):
        window = tail + chunk.lower()
        found = _CROSSREF.finditer(window)
        targets.update(m.group(1).decode("utf-8", "replace").lower() for m in found)
        tail = window[-CROSSREF_OVERLAP:]
    return targets


def _entries(
    handle: BinaryIO, *, only: set[str] | None = None
) -> Iterator[tuple[Block, int, str | None]]:
    """Every entry-like block (not @string/@comment/@preamble): its line, and why it failed.

    @string definitions are applied to the entries that follow them (BibTeX's rule),
    and field values lose their enclosing braces or quotes, as bibtexparser's default
    parse stack does. Each block is handed alone to bibtexparser's splitter. With
    `only`, just the entries with those (lower-cased) keys, and the @strings, are parsed.
    """
    strings: dict[str, str] = {}
    for segment in _segments(handle):
        if segment.problem:
            error = ValueError(segment.problem)
            failed = ParsingFailedBlock(error, segment.line, segment.text)
            yield failed, segment.line, segment.problem
            continue
        if only is not None:
            named = _BLOCK_KEY.match(segment.text.lstrip())
            if named and named.group(1).lower() != "string" and named.group(2).lower() not in only:
                continue
        if len(segment.text) >= _COUNT_BRACES_FROM and _unbalanced(segment.text):
            problem = "unparseable entry: its braces never close"
            failed = ParsingFailedBlock(ValueError(problem), segment.line, segment.text[:_HEAD])
            yield failed, segment.line, problem
            continue
        library = Splitter(segment.text).split()
        for block in library.blocks:
            line = segment.line + (block.start_line or 0)
            if isinstance(block, String):
                strings[block.key.lower()] = block.value
            elif isinstance(block, Entry):
                for f in block.fields:
                    value = f.value
                    if isinstance(value, str) and value[:1] not in ('"', "{"):
                        f.value = strings.get(value.lower(), value)
                yield _REMOVE_ENCLOSING.transform_entry(block, library), line, None
            elif isinstance(block, ParsingFailedBlock):
                reason = None
                if not segment.last and "end of file" in _failure_reason(block):
                    next_line = segment.line + segment.text.count("\n") + 1
                    reason = (
                        "unparseable entry: its braces never close "
                        f"(line {next_line} starts another entry)"
                    )
                yield block, line, reason


def _unbalanced(text: str) -> bool:
    """More "{" than "}" (not after a backslash, as bibtexparser counts), at C speed."""
    opened = text.count("{") - text.count("\\{")
    closed = text.count("}") - text.count("\\}")
    return opened > closed


class _Segment:
    """Text of a .bib file from one line-start `@type{` to the next, or what is known of it."""

    __slots__ = ("last", "line", "problem", "text")

    def __init__(self, line: int, text: str, *, last: bool, problem: str | None = None) -> None:
        self.line, self.text, self.last, self.problem = line, text, last, problem


def _segments(handle: BinaryIO) -> Iterator[_Segment]:
    """Cut a .bib stream where a line starts with `@type{` (or `@type(`), in one linear pass.

    bibtexparser's splitter itself ends an unclosed block there (so one bad entry costs
    only itself), so each piece parses alone exactly as in the whole file; finding the
    cuts is one C-level regex scan, and the splitter's own linear mark scan sees each
    character once. A piece over MAX_ENTRY characters is not kept: only its head is,
    to name it in the bad record. Invalid UTF-8 becomes lone surrogates, so only the
    entries holding such bytes are lost.
    """
    scan = _Scanner(handle)
    start, line = 0, -1  # buf[start]: the "\n" put in front, on line -1
    search = 1
    head = ""  # the head of a piece too long to keep
    while True:
        cut = _SEGMENT_START.search(scan.buf, search)
        if cut is None and not scan.eof:
            search = max(start, len(scan.buf) - _LOOKAHEAD)  # "@artic" may go on
            if head or search - start > MAX_ENTRY:
                head = head or scan.buf[start : start + _HEAD]
                line += scan.buf.count("\n", start, search)
                start = search
            shift = scan.more(start)
            if shift >= 0:
                start, search = start - shift, search - shift
            continue
        end = len(scan.buf) if cut is None else cut.start() + 1
        if head:
            if _BLOCK_START.match(head.lstrip()):
                problem = f"entry longer than {MAX_ENTRY:,} characters"
                yield _Segment(line, head, last=cut is None, problem=problem)
        elif scan.buf.find("@", start, end) >= 0:  # else only comments: nothing to parse
            yield _Segment(line, scan.buf[start:end], last=cut is None)
        if cut is None:
            return
        line += scan.buf.count("\n", start, end)
        start, search, head = end, end + 1, ""


class _Scanner:
    """A window on a decoded stream: `buf`, of which the caller says what it still needs.

    Pieces are cut out of `buf` by index; the text before the part still needed is
    dropped only when more is read, so each character is copied a bounded number of
    times (slicing the rest of a chunk after every entry would be quadratic).
    """

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buf = "\n"  # so that an "@" on the first line starts a line too
        self.eof = False
        self.first = True

    def more(self, keep: int) -> int:
        """Drop buf[:keep] and read on; how far indices moved back, or -1 at the end."""
        if self.eof:
            return -1
        data = self.handle.read(MAX_CHUNK)
        text = self.decoder.decode(data, final=not data)
        if self.first:
            text, self.first = text.removeprefix("\ufeff"), False
        self.eof = not data
        self.buf = self.buf[keep:] + text
        return keep


def _inherit(fields: dict[str, str], parents: dict[str, dict[str, str]]) -> dict[str, str]:
    """The fields of an entry completed from its `crossref` parent (one level, as BibTeX).

    A child inherits every field it lacks: its date and title (biblatex @softwareversion
    children have only a version) — a parent's title also becomes the child's booktitle.
    """
    parent = parents.get(fields.get("crossref", "").strip().lower())
    if not parent:
        return fields
    merged = dict(fields)
    for name, value in parent.items():
        if name not in _NOT_INHERITED and name not in merged:
            merged[name] = value
    if "title" in parent and "booktitle" not in fields:
        merged["booktitle"] = parent["title"]
    return merged


def _failed_key(block: Block) -> str:
    match = _BLOCK_KEY.match(getattr(block, "raw", "") or "")
    return match.group(2) if match else "?"


def _failure_reason(block: Block) -> str:
    if isinstance(block, DuplicateBlockKeyBlock):
        return f"duplicate entry key {block.key!r}"
    if isinstance(block, DuplicateFieldKeyBlock):
        return f"duplicate field(s) {', '.join(sorted(block.duplicate_keys))}"
    error = getattr(block, "error", None)
    # bibtexparser's BlockAbortedException keeps its message in abort_reason, not args.
    reason = getattr(error, "abort_reason", None) or str(error or "") or "unparseable entry"
    return f"unparseable entry: {reason.strip()}"


def _has_surrogates(value: str) -> bool:
    return _SURROGATE.search(value) is not None


def _raw_fields(entry: Entry) -> dict[str, str]:
    """Every field as written, with huge values replaced so provenance stays small."""
    raw = {}
    for f in entry.fields:
        value = str(f.value)
        if len(value) > MAX_RAW_FIELD:
            value = f"<{len(value)} characters omitted>"
        raw[f.key] = value
    return raw


def _paper(fields: dict[str, str]) -> Paper:
    """The Paper an entry's (lower-cased) fields describe; raises _Invalid."""
    title = decode_latex(fields.get("title", ""))
    if not title.strip():
        if "entryset" in fields:
            raise _Invalid("a @set of other entries, not a paper")
        raise _Invalid("entry has no title")
    url = fields.get("url", "").strip()
    doi = _doi(fields.get("doi", ""))
    primary = fields.get("primaryclass", "").strip()
    published_on, precision = _published_on(fields)
    return Paper(
        title=title,
        abstract=decode_latex(fields.get("abstract", "")),
        arxiv_id=_arxiv_id(fields, url, doi),
        doi=doi,
        authors=tuple(split_authors(fields.get("author", ""))),
        published_on=published_on,
        published_precision=precision,
        github_url=find_github_url(url) if "github.com" in url else None,
        categories=(primary,) if primary else (),
    )


def decode_latex(text: str) -> str:
    """LaTeX to plain text, best effort: accents, case-guard braces, dashes, ties."""
    if "\\" not in text or len(text) > MAX_DECODE:
        return _plain(text)
    try:
        return _LATEX.latex_to_text(text)
    except Exception:  # noqa: BLE001 — pylatexenc can fail many ways (deep nesting …); degrade
        return _plain(text)


def _plain(text: str) -> str:
    """The LaTeX-free fast path: drop grouping braces, ~ is a tie, -- and --- are dashes."""
    return text.translate(_NO_BRACES).replace("---", "\u2014").replace("--", "\u2013")


def split_authors(field: str) -> list[str]:
    """Split a BibTeX author field into "First Last" names (braces protect " and ").

    Linear in the field: whitespace is collapsed first (a regex `\\s+and\\s+` would
    retry a long whitespace run from each of its characters), and the brace depth of
    a name in progress is kept as a running count, not recounted per piece.
    """
    field = " ".join(field.split())
    if not field:
        return []
    names: list[str] = []
    pending: list[str] = []
    depth = 0
    # re.split with a group keeps the separators, so a brace group spanning one is rebuilt.
    pieces = _AND.split(field)
    for index in range(0, len(pieces), 2):
        pending.append(pieces[index])
        depth += pieces[index].count("{") - pieces[index].count("}")
        if depth > 0 and index + 1 < len(pieces):
            pending.append(pieces[index + 1])  # inside braces: the "and" is part of the name
            continue
        names.append("".join(pending))
        pending, depth = [], 0
    people = []
    for name in names:
        name = name.strip()
        if not name or is_et_al(name):  # "and others" / "and et al." are no one
            continue
        people.append(" ".join(decode_latex(_first_last(name)).split()))
    return [person for person in people if person and not is_et_al(person)]


def _first_last(name: str) -> str:
    """ "Last, First" → "First Last"; "Last, Jr, First" → "First Last Jr"; else as is."""
    parts = [part.strip() for part in _split_top_level_commas(name)]
    if len(parts) == 2:
        return f"{parts[1]} {parts[0]}"
    if len(parts) >= 3:
        return f"{' '.join(parts[2:])} {parts[0]} {parts[1]}"
    return name


def _split_top_level_commas(name: str) -> list[str]:
    if "{" not in name:
        return name.split(",")
    parts, depth, start = [], 0, 0
    for index, char in enumerate(name):
        if char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            parts.append(name[start:index])
            start = index + 1
    parts.append(name[start:])
    return parts


def _doi(value: str) -> str | None:
    # DBLP and MathSciNet escape for TeX: "10.1007/3-540-48749-2\\_2" is …-2_2.
    doi = _TEX_ESCAPE.sub(r"\1", value).translate(_NO_BRACES).strip()
    for prefix in (
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
    ):
        if doi.lower().startswith(prefix):
            doi = doi[len(prefix) :]
    if doi.lower().startswith("doi:"):
        doi = doi[4:].strip()
    return doi or None


def _arxiv_id(fields: dict[str, str], url: str, doi: str | None) -> str | None:
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").strip().lower()
    eprint = fields.get("eprint", "").translate(_NO_BRACES)
    if eprint and archive == "arxiv" and normalise_arxiv_id(eprint):
        return normalise_arxiv_id(eprint)
    if "arxiv.org/" in url.lower() and normalise_arxiv_id(url.translate(_NO_BRACES)):
        return normalise_arxiv_id(url.translate(_NO_BRACES))
    if doi and doi.lower().startswith("10.48550/arxiv."):  # arXiv's own DOIs
        return normalise_arxiv_id(doi[len("10.48550/arxiv.") :])
    # "arXiv preprint arXiv:2301.00001", "Ar{X}iv:1607.06450", "arxiv.org/abs/2205.11916"
    names = ("journal", "journaltitle", "note", "howpublished", "url", "eprint")
    return find_arxiv_id(*(fields.get(name) for name in names))


def _published_on(fields: dict[str, str]) -> tuple[date | None, str]:
    """The publication date and how precise it is (YEAR, MONTH, DAY).

    A missing day or month is stored as the first (2021 → 2021-01-01, precision YEAR):
    it sorts and filters, and a merge never lets it replace a stated day.
    """
    biblatex = fields.get("date", "").strip()
    if biblatex:
        start = biblatex.split("/")[0]  # a range "2020-01-01/2020-01-05" starts the paper
        match = _BIBLATEX_DATE.match(start.strip())
        if not match:
            raise _Invalid(f"bad date {biblatex[:40]!r}")
        year, month, day = (int(g) if g else 1 for g in match.groups())
        precision = DAY if match.group(3) else MONTH if match.group(2) else YEAR
        return _make_date(year, month, day, biblatex), precision
    year_text = fields.get("year", "").strip().translate(_NO_BRACES)
    if not year_text:
        return None, DAY
    year_match = _YEAR.fullmatch(year_text)
    if not year_match:
        raise _Invalid(f"bad year {year_text[:40]!r}")
    month_text = fields.get("month", "").strip()
    month = _month(month_text)
    day_text = fields.get("day", "").strip()
    if day_text and not _DIGITS.fullmatch(day_text):
        raise _Invalid(f"bad day {day_text[:40]!r}")
    written = f"year {year_text}, month {month}" + (f", day {day_text}" if day_text else "")
    precision = DAY if day_text and month_text else MONTH if month_text else YEAR
    day = int(day_text[:3] or 1) if month_text else 1
    return _make_date(int(year_match.group(1)), month, day, written), precision


def _month(value: str) -> int:
    """1–12 from "feb", "February", "Feb.", "2" or "02"; 1 when absent."""
    text = value.strip().rstrip(".").lower()
    if not text:
        return 1
    if _DIGITS.fullmatch(text) and 1 <= int(text[:3]) <= 12:
        return int(text)
    number = _MONTHS.get(text[:3])
    if number and calendar.month_name[number].lower().startswith(text):  # "sep", "sept", …
        return number
    raise _Invalid(f"bad month {value.strip()[:40]!r}")


def _make_date(year: int, month: int, day: int, written: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise _Invalid(f"impossible date {written[:40]!r}") from None
