"""The listing-page parser, on the real seed pages and on hostile input."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paperfeed.model import BadRecord, Record, checked, normalise_title
from paperfeed.sources import listing

from ..conftest import SEEDS

HEADER = (
    "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\n"
    "byAK and the research community\n\nDec 11\n\n"
)
ABSTRACT = "We study a problem in depth and propose a method that works well in many settings. " * 4


def card(title: str, meta: str | None = "  • 3 authors", when: str | None = "Sep 27, 2023") -> str:
    text = f"{title}\n\n{ABSTRACT}\n\n"
    if meta is not None:
        text += f"{meta}\n·\n{when}\n\n"
    return text


def parse(text: str | bytes, year: int = 2025) -> tuple[list[Record], list[BadRecord]]:
    data = text.encode() if isinstance(text, str) else text
    items = list(checked(listing.parse(data, "page.txt", year)))
    return (
        [i for i in items if isinstance(i, Record)],
        [i for i in items if isinstance(i, BadRecord)],
    )


def test_seed_pages_have_268_cards_and_243_unique_papers() -> None:
    records = []
    for path in SEEDS:
        good, bad = parse(path.read_bytes())
        assert bad == []
        records += good
    assert len(records) == 268
    assert len({r.paper.normalised_title for r in records}) == 243


def test_card_fields() -> None:
    records, _ = parse(HEADER + card("A Paper", "  • 6 authors", "Oct 25, 2024 5"))
    paper = records[0].paper
    assert paper.title == "A Paper"
    assert paper.author_count == 6 and paper.organization is None
    assert paper.published_on == date(2024, 10, 25)
    assert paper.upvotes == 5
    assert records[0].external_key == "page.txt#1"
    assert records[0].raw["date"] == "Oct 25, 2024 5"


def test_organisation_instead_of_author_count() -> None:
    records, _ = parse(HEADER + card("Org Paper", "facebook AI at Meta", "Jun 9"))
    assert records[0].paper.organization == "AI at Meta"
    assert records[0].paper.author_count is None


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("Jun 9", date(2025, 6, 9)),  # before the page date: the page's year
        ("Dec 11", date(2025, 12, 11)),  # the page date itself
        ("Dec 23", date(2024, 12, 23)),  # after the page date: the year before
        ("Mar 3 2", date(2025, 3, 3)),  # upvotes glued to a date without a year
        ("Feb 29", date(2024, 2, 29)),  # only a leap year has it
    ],
)
def test_year_inference(when: str, expected: date) -> None:
    records, _ = parse(HEADER + card("Dated", when=when))
    assert records[0].paper.published_on == expected


def test_cards_without_metadata_are_paired_up() -> None:
    text = HEADER + card("First", meta=None) + card("Second", meta=None) + card("Third")
    records, bad = parse(text)
    assert [r.paper.title for r in records] == ["First", "Second", "Third"]
    assert bad == []
    # The metadata block belongs to the last card before it.
    assert records[0].paper.author_count is None and records[2].paper.author_count == 3


def test_invalid_date_is_reported_with_position_and_the_rest_lands() -> None:
    records, bad = parse(
        HEADER + card("Good") + card("Bad date", when="Feb 30") + card("Also good")
    )
    assert [r.paper.title for r in records] == ["Good", "Also good"]
    assert len(bad) == 1 and "invalid date 'Feb 30'" in bad[0].reason
    assert bad[0].position.startswith("page.txt:")


def test_card_with_no_title_is_reported() -> None:
    text = HEADER + card("Good") + f"{ABSTRACT}\n\n  • 2 authors\n·\nMay 1, 2024\n\n" + card("Next")
    records, bad = parse(text)
    assert [r.paper.title for r in records] == ["Good", "Next"]
    assert any("abstract without a title" in b.reason for b in bad)


def test_huge_abstract_is_rejected_by_validation() -> None:
    text = HEADER + "Huge\n\n" + "x" * 1_000_000 + "\n\n" + card("Fine")
    records, bad = parse(text)
    assert [r.paper.title for r in records] == ["Fine"]
    assert any("abstract of 1000000 characters" in b.reason for b in bad)


def test_invalid_utf8_is_reported_and_other_cards_land() -> None:
    data = (HEADER + card("Good")).encode() + b"Bad \xff\xfe title\n\n" + ABSTRACT.encode()
    records, bad = parse(data + b"\n\n" + card("Later").encode())
    assert "Good" in [r.paper.title for r in records] and "Later" in [
        r.paper.title for r in records
    ]
    assert any("invalid UTF-8" in b.reason for b in bad)


def test_binary_garbage_is_one_clear_error() -> None:
    records, bad = parse(bytes(range(256)) * 10)
    assert records == [] and bad[0].reason == "binary data, not a listing page"


def test_truncated_page_keeps_complete_cards() -> None:
    full = HEADER + card("One") + card("Two")
    records, bad = parse(full[: full.index("Two") + 3])
    assert [r.paper.title for r in records] == ["One"]
    assert any("title without abstract" in b.reason for b in bad)


titles = st.text(
    alphabet=st.characters(categories=["L", "N"], include_characters=" -:,"),
    min_size=1,
    max_size=120,
).filter(lambda t: normalise_title(t) and t.strip() == t and "  " not in t)
dates = st.dates(min_value=date(1991, 1, 1), max_value=date(2025, 12, 11))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(titles, dates, st.integers(0, 999), st.booleans()), min_size=1, max_size=8)
)
def test_generated_pages_round_trip(cards: list[tuple[str, date, int, bool]]) -> None:
    """Whatever cards we render, the parser gets back each title, date and upvote count."""
    text = HEADER
    for title, day, votes, has_year in cards:
        page = date(2025, 12, 11)
        show_year = has_year or listing.infer_year(day.month, day.day, page) != day
        when = day.strftime("%b ") + str(day.day) + (f", {day.year}" if show_year else "")
        text += card(title, "  • 2 authors", when + (f" {votes}" if votes else ""))
    records, bad = parse(text)
    assert bad == []
    assert [(r.paper.title, r.paper.published_on, r.paper.upvotes) for r in records] == [
        (t, d, v) for t, d, v, _ in cards
    ]


@given(st.binary(max_size=2000))
@settings(max_examples=100, deadline=None)
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    items = list(checked(listing.parse(data, "fuzz.txt", 2025)))
    assert all(isinstance(i, (Record, BadRecord)) for i in items)
