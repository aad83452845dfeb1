"""BibTeX for a paper page: one @misc entry (arXiv style when the id is known)."""

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


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in " ".join((text or "").split()))


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


def bibtex(paper: dict[str, Any]) -> str:
    """A BibTeX @misc entry for a paper row from ranking.get_paper."""
    fields: list[tuple[str, str]] = [("title", "{" + _escape(paper["title"]) + "}")]
    if paper.get("authors"):
        fields.append(("author", " and ".join(_escape(a) for a in paper["authors"])))
    if paper.get("published_on"):
        fields.append(("year", str(paper["published_on"].year)))
        fields.append(("month", paper["published_on"].strftime("%b").lower()))
    if paper.get("arxiv_id"):
        fields.append(("eprint", _escape(paper["arxiv_id"])))
        fields.append(("archivePrefix", "arXiv"))
        fields.append(("url", f"https://arxiv.org/abs/{_escape(paper['arxiv_id'])}"))
    if paper.get("doi"):
        fields.append(("doi", _escape(paper["doi"])))
    if paper.get("organization"):
        fields.append(("note", _escape(paper["organization"])))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{citation_key(paper)},\n{body}\n}}\n"
