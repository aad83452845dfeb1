"""BibTeX: a messy real-world library, LaTeX decoding, author splitting, hostile input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paperfeed.model import BadRecord, Record, checked
from paperfeed.sources import bibtex

LIBRARY = Path(__file__).parent.parent / "fixtures" / "bibtex" / "library.bib"


def parse(text: str | bytes) -> list:
    data = text.encode() if isinstance(text, str) else text
    return list(bibtex.parse(data, "t.bib"))


@pytest.fixture(scope="module")
def library() -> dict[str, object]:
    """The fixture's items by citation key (a duplicate key gets a "#2" suffix)."""
    items: dict[str, object] = {}
    for item in bibtex.read(LIBRARY, origin="library.bib"):
        key = item.position.split("'")[1]
        items[key + "#2" if key in items else key] = item
    return items


def test_every_block_is_accounted_for_in_file_order(library: dict) -> None:
    assert [(key, type(item).__name__) for key, item in library.items()] == [
        ("olarewaju2024dense", "Record"),
        ("vaswani2017attention", "Record"),
        ("broken2023", "BadRecord"),
        ("barnes2020", "Record"),
        ("notitle2022", "BadRecord"),
        ("feb30", "BadRecord"),
        ("fastkv2024", "Record"),
        ("vaswani2017attention#2", "BadRecord"),
        ("gotel2021", "Record"),
        ("smarch", "BadRecord"),
        ("arxivdoi2023", "Record"),
    ]


def test_full_entry_with_latex_accents_and_eprint(library: dict) -> None:
    record = library["olarewaju2024dense"]
    assert record.source == "bibtex"
    assert record.external_key == "library.bib#olarewaju2024dense"
    assert record.position == "library.bib: entry 1 'olarewaju2024dense' (line 4)"
    paper = record.paper
    assert paper.title == (
        "Dense Retrieval for Low-Resource Languages: "
        "A Study of Cross-Lingual Transfer in Yorùbá and Māori"
    )
    assert paper.authors == ("Adébáyọ Olárewájú", "Aroha Ngata", "Lukas Müller")
    assert paper.arxiv_id == "2401.05566"
    assert paper.doi == "10.18653/v1/2024.acl-long.12"
    assert paper.published_on == date(2024, 8, 1)  # month, no day: the first
    assert paper.categories == ("cs.IR",)
    assert paper.abstract.endswith("data – and improve nDCG@10 by 7\xa0points.")
    assert record.raw["entry_type"] == "inproceedings"
    assert record.raw["fields"]["booktitle"].startswith("Proceedings of the Annual Meeting")


def test_google_scholar_style_arxiv_journal(library: dict) -> None:
    paper = library["vaswani2017attention"].paper
    assert paper.arxiv_id == "1706.03762"
    assert paper.published_on == date(2017, 1, 1)  # a year alone: January 1st
    assert paper.authors[6] == "Łukasz Kaiser"
    assert len(paper.authors) == 8


def test_braced_corporate_author_particles_suffixes_and_others(library: dict) -> None:
    paper = library["barnes2020"].paper
    assert paper.title == "The Barnes and Noble Story"
    assert paper.authors == ("Barnes and Noble, Inc.", "Jean de la Fontaine", "John Doe Jr.")
    assert paper.published_on == date(2020, 3, 15)  # the start of a biblatex range
    assert paper.arxiv_id == "2003.00001"  # from the arxiv.org url


def test_unknown_entry_type_with_a_title_is_accepted(library: dict) -> None:
    paper = library["fastkv2024"].paper
    assert paper.title == "FastKV: A Key-Value Cache Compressor"
    assert paper.published_on == date(2024, 9, 1)  # "Sept."
    assert paper.github_url == "https://github.com/jkowalski/fastkv"
    assert paper.doi == "10.5281/zenodo.1234567"


def test_math_stays_verbatim_and_arxiv_doi_gives_the_id(library: dict) -> None:
    assert (
        library["gotel2021"].paper.title == "Gödel, Escher, and Škoda: $\\mathcal{O}(n^2)$ Proofs"
    )
    assert library["gotel2021"].paper.published_on == date(1921, 6, 1)
    erdos = library["arxivdoi2023"].paper
    assert (erdos.arxiv_id, erdos.authors) == ("2305.10601", ("Paul Erdős",))


def test_bad_entries_name_key_line_and_reason(library: dict) -> None:
    reasons = {
        key: (item.position, item.reason)
        for key, item in library.items()
        if isinstance(item, BadRecord)
    }
    assert reasons["broken2023"][0] == "library.bib: entry 3 'broken2023' (line 24)"
    assert reasons["broken2023"][1].startswith("unparseable entry:")
    assert reasons["notitle2022"][1] == "entry has no title"
    assert reasons["feb30"][1] == "impossible date 'year 2023, month 2, day 30'"
    assert reasons["vaswani2017attention#2"][1] == "duplicate entry key 'vaswani2017attention'"
    assert reasons["smarch"][1] == "bad month 'Smarch'"


def test_records_pass_central_validation(library: dict) -> None:
    records = [item for item in library.values() if isinstance(item, Record)]
    assert all(isinstance(item, Record) for item in checked(records))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("year = 2021", date(2021, 1, 1)),
        ("year = 2021, month = mar", date(2021, 3, 1)),
        ("year = 2021, month = {March}", date(2021, 3, 1)),
        ("year = 2021, month = {03}", date(2021, 3, 1)),
        ("year = 2021, month = {12}, day = {24}", date(2021, 12, 24)),
        ("year = 2020, month = feb, day = {29}", date(2020, 2, 29)),
        ("date = {2019-07}", date(2019, 7, 1)),
        ("date = {2019-07-04}, year = 1900", date(2019, 7, 4)),
        ("", None),
    ],
)
def test_publication_dates(fields: str, expected: date | None) -> None:
    (item,) = parse(f"@article{{k, title = {{T}}, {fields}}}")
    assert item.paper.published_on == expected


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ("year = {in press}", "bad year 'in press'"),
        ("year = {20211}", "bad year '20211'"),
        ("year = 2021, month = {Marchember}", "bad month 'Marchember'"),
        ("year = 2021, month = {0}", "bad month '0'"),
        ("year = 2021, day = {1st}", "bad day '1st'"),
        ("date = {2021-13-01}", "impossible date '2021-13-01'"),
        ("date = {yesterday}", "bad date 'yesterday'"),
    ],
)
def test_impossible_dates_are_reported(fields: str, reason: str) -> None:
    (item,) = parse(f"@article{{k, title = {{T}}, {fields}}}")
    assert isinstance(item, BadRecord)
    assert item.reason == reason


@pytest.mark.parametrize(
    ("fields", "arxiv_id"),
    [
        ("eprint = {2301.00001v2}", "2301.00001"),  # no archivePrefix: an arXiv-shaped eprint
        ("eprint = {2301.00001}, eprinttype = {arxiv}", "2301.00001"),
        ("eprint = {hal-0123}, archivePrefix = {HAL}", None),
        ("eprint = {2301.00001}, archivePrefix = {HAL}", None),  # another archive's number
        ("url = {https://arxiv.org/pdf/2301.00002.pdf}", "2301.00002"),
        ("note = {arXiv:cs/0112017}", "cs/0112017"),
        ("url = {https://example.org/2301.00001}", None),
    ],
)
def test_arxiv_ids(fields: str, arxiv_id: str | None) -> None:
    (item,) = parse(f"@misc{{k, title = {{T}}, {fields}}}")
    assert item.paper.arxiv_id == arxiv_id


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        ("Plain title", "Plain title"),
        ("The {GPT} Family", "The GPT Family"),
        (r"Schr\"{o}dinger's {\"O}l", "Schrödinger's Öl"),
        (r"\'Ecole na\"ive fa\c{c}ade", "École naïve façade"),
        (r"Caf\'e \& Bar 100\%", "Café & Bar 100%"),
        (r"\emph{Deep} \textbf{Learning}", "Deep Learning"),
        ("pages 1--10, yes---no", "pages 1–10, yes—no"),
        (r"pages 1--10 \'e", "pages 1–10 é"),
    ],
)
def test_decode_latex(latex: str, text: str) -> None:
    assert bibtex.decode_latex(latex) == text


def test_decode_latex_degrades_instead_of_raising_on_deep_nesting() -> None:
    deep = "{" * 4000 + r"\'e" + "}" * 4000  # deeper than pylatexenc's recursion allows
    assert bibtex.decode_latex(deep) in ("é", r"\'e")


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("", []),
        ("Jane Doe", ["Jane Doe"]),
        ("Doe, Jane and Roe, R.", ["Jane Doe", "R. Roe"]),
        ("Doe, Jane AND Roe, R.", ["Jane Doe", "R. Roe"]),
        ("Doe, Jr., John", ["John Doe Jr."]),
        ("{Barnes and Noble} and Sand, Ann", ["Barnes and Noble", "Ann Sand"]),
        (
            "{Barnes {and} Noble, Inc} and Sandy Andersen",
            ["Barnes and Noble, Inc", "Sandy Andersen"],
        ),
        ('M{\\"u}ller, Hans and others', ["Hans Müller"]),
        (
            "Ferdinand de Saussure\n   and\tRoland Barthes",
            ["Ferdinand de Saussure", "Roland Barthes"],
        ),
    ],
)
def test_split_authors(field: str, names: list[str]) -> None:
    assert bibtex.split_authors(field) == names


# A name part: letters only (no commas, braces or whitespace), never the word "and".
name_part = st.text(st.characters(categories=["Lu", "Ll"]), min_size=1, max_size=12).filter(
    lambda word: word.lower() not in ("and", "others")
)
person = st.tuples(name_part, name_part)


@given(st.lists(st.tuples(person, st.booleans()), min_size=1, max_size=8))
def test_split_authors_recovers_first_last_from_either_form(people: list) -> None:
    written = [
        f"{last}, {first}" if inverted else f"{first} {last}" for (first, last), inverted in people
    ]
    assert bibtex.split_authors(" and ".join(written)) == [
        f"{first} {last}" for (first, last), _ in people
    ]


# ---------------------------------------------------------------- hostile input


def test_ten_megabyte_field_is_parsed_and_rejected_by_validation() -> None:
    # How fast: benchmarks/parse_speed.py (a quadratic path would take minutes).
    huge = "word " * 2_000_000  # 10 MB
    data = f"@article{{big, title = {{Big}}, abstract = {{{huge}}}}}\n"
    data += "@misc{after, title = {After}}\n"
    items = parse(data)
    assert [item.raw["key"] for item in items] == ["big", "after"]
    assert items[0].raw["fields"]["abstract"] == f"<{len(huge)} characters omitted>"
    big, after = checked(items)
    assert isinstance(big, BadRecord) and big.reason.startswith("abstract of")
    assert isinstance(after, Record)


def test_ten_megabyte_field_full_of_latex_is_not_decoded() -> None:
    huge = r"\'e " * 2_500_000
    (item,) = parse(f"@article{{big, title = {{{huge}}}}}")
    assert item.paper.title.startswith(r"\'e")  # left as written: too long to keep anyway


def test_unbalanced_braces_cost_one_entry() -> None:
    items = parse(
        "@article{one, title = {One}}\n"
        "@article{two, title = {Two {unclosed}\n"
        "@article{three, title = {Three}}\n"
        "@article{four, title = {Four}\n"
    )
    assert [(type(i).__name__, i.position.split("'")[1]) for i in items] == [
        ("Record", "one"),
        ("BadRecord", "two"),
        ("Record", "three"),
        ("BadRecord", "four"),
    ]


def test_invalid_utf8_costs_only_the_entry_that_holds_it() -> None:
    data = b"@article{a, title = {Caf\xe9}}\n@article{b, title = {Fine \xc3\xa9}}\n"
    items = parse(data)
    assert isinstance(items[0], BadRecord)
    assert items[0].reason == "invalid UTF-8 in the entry"
    assert items[1].paper.title == "Fine é"


def test_duplicate_fields_are_reported() -> None:
    (item,) = parse("@article{k, title = {A}, title = {B}}")
    assert item.reason == "duplicate field(s) title"


def test_strings_comments_and_preambles_are_not_entries() -> None:
    items = parse(
        '@string{j = "Journal"}\n@preamble{"\\newcommand{\\x}{y}"}\n@comment{nothing}\n'
        "stray text between entries\n@article{k, title = {Kept}, journal = j}\n"
    )
    assert [i.paper.title for i in items] == ["Kept"]
    assert items[0].raw["fields"]["journal"] == "Journal"
    assert items[0].position == "t.bib: entry 1 'k' (line 5)"


def test_byte_order_mark_is_ignored() -> None:
    (item,) = parse("\ufeff@article{k, title = {T}}".encode())
    assert item.paper.title == "T"


def _summary(items: list) -> list[tuple]:
    return [
        (type(i).__name__, i.position, getattr(i, "reason", None), getattr(i, "paper", None))
        for i in items
    ]


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_streamed_in_small_chunks_reads_the_same(monkeypatch, chunk: int) -> None:
    """Every cut of the stream (inside a block start, a UTF-8 character, a BOM) reads alike."""
    from tests.sources.realdata import files

    paths = [LIBRARY, *files("bibtex", "plk_*.bib"), *files("bibtex", "*software.bib")]
    whole = {path: _summary(list(bibtex.read(path))) for path in paths}
    bom = "\ufeff@article{k, title = {Caf\u00e9}}".encode()
    whole[bom] = _summary(parse(bom))
    monkeypatch.setattr(bibtex, "MAX_CHUNK", chunk)
    for path in paths:
        assert _summary(list(bibtex.read(path))) == whole[path], path
    assert _summary(parse(bom)) == whole[bom]


def test_crossref_parent_after_its_child_through_a_pipe() -> None:
    """A stream that cannot seek (a pipe) is spooled, and parents may come last."""
    import os

    text = (
        "@inproceedings{child, author = {A. Author}, crossref = {Proc}}\n"
        "@proceedings{proc, title = {Proceedings of Things}, year = {2021}}\n"
    )
    read_end, write_end = os.pipe()
    os.write(write_end, text.encode())
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        items = list(bibtex.read_stream(pipe, "p.bib"))
    child = items[0].paper
    assert (child.title, child.published_on) == ("Proceedings of Things", date(2021, 1, 1))


def test_an_entry_over_the_cap_is_one_bad_record_and_the_rest_reads(monkeypatch) -> None:
    monkeypatch.setattr(bibtex, "MAX_ENTRY", 1000)
    monkeypatch.setattr(bibtex, "MAX_CHUNK", 64)
    items = parse(
        "@article{a, title = {A}}\n"
        f"@article{{huge, title = {{{'x' * 5000}}}}}\n"
        "@article{b, title = {B}}\n"
    )
    assert [(type(i).__name__, i.position) for i in items] == [
        ("Record", "t.bib: entry 1 'a' (line 1)"),
        ("BadRecord", "t.bib: entry 2 'huge' (line 2)"),
        ("Record", "t.bib: entry 3 'b' (line 3)"),
    ]
    assert items[1].reason == "entry longer than 1,000 characters"


@pytest.mark.parametrize(
    "hostile",
    [
        "@article{n, title = {" + "{" * 2_000_000,
        '@article{u, title = "' + "x" * 2_000_000,
        "@article{w, title = {W}, author = {A" + " " * 2_000_000 + "B}}",
        "@article{a, title = {A}, author = {{" + "x and " * 300_000 + "}",
        "@" * 500_000 + "\n" + "@article" * 200_000,
    ],
    ids=["nested", "unterminated", "whitespace", "and-in-brace", "at-signs"],
)
def test_pathological_input_gives_bad_records_or_records(hostile: str) -> None:
    """Fuzz-style input reads without an exception (its time is benchmarks/parse_speed.py's)."""
    items = parse(hostile + "\n@article{after, title = {After}}\n")
    assert items[-1].paper.title == "After"
