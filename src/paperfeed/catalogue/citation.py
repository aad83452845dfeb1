"""The one BibTeX writer: the paper page, the API and every library export use it.

Paper text is untrusted (anyone can submit a paper, imports carry whatever a
.bib file held), and a BibTeX value is LaTeX: `\\input{/etc/passwd}` or an
unbalanced brace would run or break in whoever compiles the export. So every
value goes through `escape`, which turns each character with a meaning in
BibTeX/LaTeX into its literal form; nothing is passed through verbatim.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Characters with a meaning in BibTeX/LaTeX, escaped so a hostile title
# cannot close the field or inject commands.
_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def escape(text: Any) -> str:
    """A value safe inside BibTeX braces: one line, every special character literal."""
    return "".join(_ESCAPES.get(ch, ch) for ch in " ".join(str(text or "").split()))


def _key_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def citation_key(paper: dict[str, Any]) -> str:
    """surnameYEARword, e.g. vaswani2017attention; without authors word+year or paper<id>."""
    surname = ""
    if paper.get("authors"):
        surname = _key_word(paper["authors"][0].split()[-1]) if paper["authors"][0].split() else ""
    year = str(paper["published_on"].year) if paper.get("published_on") else ""
    words = [w for w in (_key_word(w) for w in paper["title"].split()) if len(w) > 3]
    word = words[0] if words else ""
    if surname:
        return f"{surname}{year}{word}"
    return f"{word}{year}" if word else f"paper{paper['id']}"


def _unique(key: str, used: set[str]) -> str:
    candidate, n = key, 1
    while candidate in used:
        n += 1
        candidate = f"{key}{chr(ord('a') + (n - 2) % 26)}{'' if n < 28 else n}"
    used.add(candidate)
    return candidate


def _fields(paper: dict[str, Any], abstracts: bool) -> list[tuple[str, str]]:
    # The title keeps its capitalisation (an extra brace pair) in every style.
    fields = [("title", "{" + escape(paper["title"]) + "}")]
    if paper.get("authors"):
        fields.append(("author", " and ".join(escape(a) for a in paper["authors"])))
    if paper.get("published_on"):
        fields.append(("year", str(paper["published_on"].year)))
        fields.append(("month", paper["published_on"].strftime("%b").lower()))
    if paper.get("arxiv_id"):
        arxiv = escape(paper["arxiv_id"])
        fields += [("eprint", arxiv), ("archiveprefix", "arXiv")]
        fields.append(("url", f"https://arxiv.org/abs/{arxiv}"))
        if paper.get("categories"):
            fields.append(("primaryclass", escape(paper["categories"][0])))
    if paper.get("doi"):
        fields.append(("doi", escape(paper["doi"])))
    if abstracts and paper.get("abstract"):
        fields.append(("abstract", escape(paper["abstract"])))
    if paper.get("tags"):
        fields.append(("keywords", ", ".join(escape(t) for t in paper["tags"])))
    note = paper.get("note") or paper.get("organization")
    if note:
        fields.append(("note", escape(note)))
    return fields


def to_bibtex(
    papers: list[dict[str, Any]], entry_type: str = "article", *, abstracts: bool = True
) -> str:
    """BibTeX entries for papers (rows with title, authors, published_on, arxiv_id, doi, …)."""
    used: set[str] = set()
    entries = []
    for paper in papers:
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in _fields(paper, abstracts))
        entries.append(f"@{entry_type}{{{_unique(citation_key(paper), used)},\n{body}\n}}\n")
    return "\n".join(entries)


def bibtex(paper: dict[str, Any]) -> str:
    """The @misc entry of one paper (the paper page and the API), without its abstract."""
    return to_bibtex([paper], entry_type="misc", abstracts=False)
