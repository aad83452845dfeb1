"""Helpers for free-text fields that several sources share."""

from __future__ import annotations

import re

# A repository link in free text; the character class stops at ")", "}", "," and spaces.
_GITHUB = re.compile(r"(?:https?://)?(?:www\.)?github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)")
# Parenthesised affiliations in arXivRaw author strings: "A. Author (1), B. Author (2) ((1) X)".
_PARENS = re.compile(r"\([^()]*\)")
_AUTHOR_SEPARATORS = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")


def find_github_url(*texts: str | None) -> str | None:
    """The first github.com repository URL in the texts, as https://github.com/owner/repo."""
    for text in texts:
        match = _GITHUB.search(text or "")
        if match:
            owner, repo = match.group(1), match.group(2).rstrip(".").removesuffix(".git")
            if repo:
                return f"https://github.com/{owner}/{repo}"
    return None


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
    return [name for name in names if name]
