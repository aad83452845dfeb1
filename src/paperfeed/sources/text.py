"""Helpers for free-text fields that several sources share."""

from __future__ import annotations

import re
from datetime import date

from paperfeed.model import DAY, MONTH, YEAR, normalise_arxiv_id

# A repository link in free text; the character class stops at ")", "}", "," and spaces.
_GITHUB = re.compile(r"(?:https?://)?(?:www\.)?github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)")
# Parenthesised affiliations in arXivRaw author strings: "A. Author (1), B. Author (2) ((1) X)".
_PARENS = re.compile(r"\([^()]*\)")
_AUTHOR_SEPARATORS = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


def find_github_url(*texts: str | None) -> str | None:
    """The first github.com repository URL in the texts, as https://github.com/owner/repo."""
    for text in texts:
        # The literal first: the pattern's optional prefixes make it try every character.
        match = _GITHUB.search(text) if text and "github.com" in text else None
        if match:
            owner, repo = match.group(1), match.group(2).rstrip(".").removesuffix(".git")
            if repo:
                return f"https://github.com/{owner}/{repo}"
    return None


# "et al.", "et al", "et. al.", "others": a list cut short, not a person.
_ET_AL = re.compile(r"(?:et\.?\s*al\.?|others)", re.IGNORECASE)


def is_et_al(name: str) -> bool:
    """True for the "et al." / "others" that ends a shortened author list."""
    # Called for every author of every import: a substring test rules out nearly every
    # name far cheaper than the pattern. casefold, not lower, because IGNORECASE also
    # matches the long s (U+017F) as "s", and casefold maps it to "s" too.
    folded = name.casefold()
    if "al" not in folded and "others" not in folded:
        return False
    return _ET_AL.fullmatch(name.strip()) is not None


def split_author_list(text: str) -> list[str]:
    """Split "A. One, B. Two and C. Three" into names, dropping parenthesised affiliations."""
    # One space between words first: the separator pattern then cannot backtrack over
    # long runs of whitespace (hostile input would make that quadratic).
    text = " ".join(text.split())
    for _ in range(3):  # affiliations nest once, "((1) Univ X, (2) Univ Y)"; deeper is not one
        text, removed = _PARENS.subn(" ", text)
        if not removed:
            break
    names = (" ".join(part.split()) for part in _AUTHOR_SEPARATORS.split(text))
    return [name for name in names if name and not is_et_al(name)]


# "arXiv:2301.00001", "arxiv.org/abs/2205.11916", arXiv's DOIs "10.48550/arXiv.2301.00001".
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv:\s*|arxiv\.org/(?:abs|pdf)/|10\.48550/arxiv\.)([\w./-]+)", re.IGNORECASE
)


def find_arxiv_id(*texts: str | None) -> str | None:
    """The first arXiv id written in any of the texts (braces ignored: "Ar{X}iv:…")."""
    for text in texts:
        text = (text or "").replace("{", "").replace("}", "")
        if "rxiv" not in text.lower():
            continue
        for match in _ARXIV_IN_TEXT.finditer(text):
            found = normalise_arxiv_id(match.group(1).rstrip(".").removesuffix(".pdf"))
            if found:
                return found
    return None


# "2020", "2020-05", "2020-05-17", also with "/" (RIS: "2020/05/17/") and a time after.
_PARTIAL_DATE = re.compile(r"([0-9]{4})(?:[-/]([0-9]{1,2}))?(?:[-/]([0-9]{1,2}))?", re.ASCII)


def partial_date(text: str) -> tuple[date, str] | None:
    """(date, precision) of a date written with as much as its source knew; None if none.

    A missing month or day is stored as the first (precision says so); an impossible
    date raises ValueError.
    """
    match = _PARTIAL_DATE.match(text.strip())
    if not match:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    if month == 0:  # RIS writes unknown parts as empty or 00
        month = day = None
    if day == 0:
        day = None
    precision = DAY if day else MONTH if month else YEAR
    assert year is not None
    return date(year, month or 1, day or 1), precision


def date_parts(parts: object) -> tuple[date, str] | None:
    """(date, precision) of CSL's [year, month?, day?] (numbers or digit strings)."""
    if not isinstance(parts, list) or not parts or len(parts) > 3:
        return None
    numbers = []
    for part in parts:
        if isinstance(part, str) and part.strip().isascii() and part.strip().isdigit():
            part = int(part.strip()[:5])
        if not isinstance(part, int) or isinstance(part, bool):
            return None
        numbers.append(part)
    return partial_date("-".join(f"{n:04d}" if i == 0 else str(n) for i, n in enumerate(numbers)))
