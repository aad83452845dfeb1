"""Properties of the helpers that put untrusted text into HTML and BibTeX."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import example, given
from hypothesis import strategies as st

from paperfeed.catalogue.citation import bibtex
from paperfeed.web.deps import highlight, safe_url

_TAG = re.compile(r"<[^>]*>")


@given(st.text())
def test_highlight_leaves_no_tag_but_mark(text):
    html = str(highlight(text))
    assert {t for t in _TAG.findall(html)} <= {"<mark>", "</mark>"}


@given(st.text())
@example("\x03\x03")  # more closing markers than opening ones (found by hypothesis)
def test_highlight_balances_marks(text):
    html = str(highlight("\x02" + text))
    assert html.count("<mark>") == html.count("</mark>")


@given(st.text())
def test_safe_url_only_passes_http_links(url):
    out = safe_url(url)
    assert out == "#" or out.lower().startswith(("http://", "https://"))


@given(st.text(min_size=1), st.lists(st.text(), max_size=3))
def test_bibtex_braces_stay_balanced(title, authors):
    entry = bibtex(
        {
            "id": 1,
            "title": title,
            "authors": authors,
            "published_on": date(2024, 1, 2),
            "arxiv_id": None,
            "doi": None,
            "organization": None,
        }
    )
    depth = 0
    escaped = False
    for ch in entry:
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            assert depth >= 0
    assert depth == 0
