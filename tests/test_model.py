"""Identity and merge rules, checked as properties over generated papers."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.model import (
    InvalidPaper,
    Paper,
    merge,
    normalise_arxiv_id,
    normalise_title,
    title_id,
    validate,
)

names = st.text(st.characters(categories=["L"]), min_size=1, max_size=12)
maybe_date = st.none() | st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 1, 1))
papers = st.builds(
    Paper,
    title=st.just("Same Title"),
    abstract=st.text(max_size=50),
    arxiv_id=st.none() | st.just("2401.00001"),
    authors=st.lists(names, max_size=5).map(tuple),
    author_count=st.none() | st.integers(0, 20),
    organization=st.none() | st.sampled_from(["Meta", "OpenBMB"]),
    published_on=maybe_date,
    listed_on=maybe_date,
    github_url=st.none() | st.just("https://github.com/x/y"),
    upvotes=st.integers(0, 500),
    categories=st.lists(
        st.sampled_from(["cs.LG", "cs.CL", "stat.ML"]), max_size=3, unique=True
    ).map(tuple),
)


@given(papers, papers)
@settings(max_examples=300)
def test_merge_is_idempotent(a: Paper, b: Paper) -> None:
    merged = merge(a, b)
    assert merge(merged, b) == merged
    assert merge(merged, a) == merged
    assert merge(merged, merged) == merged


@given(papers, papers)
@settings(max_examples=300)
def test_merge_keeps_the_richer_value_of_each_field(a: Paper, b: Paper) -> None:
    m = merge(a, b)
    assert len(m.abstract) == max(len(a.abstract), len(b.abstract))
    assert len(m.authors) == max(len(a.authors), len(b.authors))
    assert m.upvotes == max(a.upvotes, b.upvotes)
    dates = [d for d in (a.published_on, b.published_on) if d]
    assert m.published_on == (min(dates) if dates else None)
    if m.author_count is not None:
        assert m.author_count >= len(m.authors)
    assert set(m.categories) == set(a.categories) | set(b.categories)


@given(papers, papers, papers)
@settings(max_examples=200)
def test_merge_order_does_not_change_the_order_independent_fields(
    a: Paper, b: Paper, c: Paper
) -> None:
    left, right = merge(merge(a, b), c), merge(a, merge(c, b))
    for field in ("published_on", "listed_on", "upvotes", "author_count"):
        assert getattr(left, field) == getattr(right, field)
    assert len(left.abstract) == len(right.abstract)


@given(st.text(max_size=200))
def test_normalised_title_is_stable_and_canonical(title: str) -> None:
    once = normalise_title(title)
    assert normalise_title(once) == once
    assert once == once.strip() and "  " not in once
    assert all(ch.isalnum() and ch.isascii() or ch == " " for ch in once)


def test_title_id_matches_the_evaluation_set() -> None:
    # The first paper of ../shared/eval/corpus.jsonl.
    title = (
        "Rethinking Channel Dimensions to Isolate Outliers for Low-bit Weight Quantization"
        " of Large Language Models"
    )
    assert title_id(title) == "3747d05145d3"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2401.01234", "2401.01234"),
        ("2401.01234v3", "2401.01234"),
        ("arXiv:1607.06450v1", "1607.06450"),
        ("https://arxiv.org/abs/1607.06450", "1607.06450"),
        ("http://arxiv.org/pdf/2106.09685v2.pdf", "2106.09685"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("not an id", None),
        ("", None),
    ],
)
def test_arxiv_ids_are_normalised(raw: str, expected: str | None) -> None:
    assert normalise_arxiv_id(raw) == expected


def test_validate_cleans_and_rejects() -> None:
    cleaned = validate(
        Paper(title="  A\u0000 title\n with  spaces ", authors=("x", "", "y"), author_count=1)
    )
    assert cleaned.title == "A title with spaces"
    assert cleaned.authors == ("x", "y") and cleaned.author_count == 2
    with pytest.raises(InvalidPaper, match="missing title"):
        validate(Paper(title=" -- "))
    with pytest.raises(InvalidPaper, match="negative"):
        validate(Paper(title="t", upvotes=-1))
