"""Every real .bib file in ../shared/realdata, and the defects they showed (issue 13)."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.model import DAY, YEAR, Paper, merge
from paperfeed.sources import bibtex
from tests.sources.realdata import REALDATA, count_bib_entries, files, split

BIB = files("bibtex", "*.bib") + files("bibtex_in_readme", "*.bib")
# file name → (accepted, rejected), counted by hand from the files.
EXPECTED = {
    "brendon-boldt_phd-thesis_zotero.bib": (169, 0),
    "carlostome_latex-biblio_MathSciNet.bib": (56, 0),
    "carlostome_latex-biblio_dblp.bib": (296, 0),
    "carlostome_latex-biblio_software.bib": (8, 0),  # 3 crossref children resolved
    "d2l-en_d2l.bib": (488, 0),  # 2023a / 2023b read as 2023
    "plk_biblatex-examples.bib": (90, 2),  # the two @set entries are no papers
    "srush_do-we-need-attention_anthology.bib": (47, 0),
    "srush_do-we-need-attention_ssm.bib": (17, 0),
    "opendatalab_REST_README_citation_lines144-152.bib": (1, 0),
}


def records(name: str) -> dict[str, Paper]:
    path = next(p for p in BIB if p.name == name)
    good, _ = split(bibtex.read(path, origin=name))
    return {r.raw["key"]: r.paper for r in good}


def test_every_real_file_is_read() -> None:
    assert sorted(p.name for p in BIB) == sorted(EXPECTED)


@pytest.mark.parametrize("path", BIB, ids=lambda p: p.name)
def test_every_entry_is_accepted_or_rejected_and_none_lost(path) -> None:
    good, bad = split(bibtex.read(path, origin=path.name))
    assert len(good) + len(bad) == count_bib_entries(path.read_text(encoding="utf-8"))
    assert (len(good), len(bad)) == EXPECTED[path.name]
    for record in good:
        assert record.paper.title.strip()
        assert not any(a.lower().startswith("et al") for a in record.paper.authors)
        assert "\\" not in (record.paper.doi or "")


def test_braced_and_url_shaped_arxiv_ids_are_found() -> None:
    d2l = records("d2l-en_d2l.bib")
    assert d2l["Ba.Kiros.Hinton.2016"].arxiv_id == "1607.06450"  # journal={Ar{X}iv:1607.06450}
    assert d2l["kojima2022large"].arxiv_id == "2205.11916"  # journal={arxiv.org/abs/2205.11916}
    path = REALDATA / "bibtex" / "d2l-en_d2l.bib"
    fields = [r.raw["fields"] for r in split(bibtex.read(path))[0]]
    in_journal = [f for f in fields if "Ar{X}iv:" in f.get("journal", "")]
    assert len(in_journal) == 126
    assert sum(1 for p in d2l.values() if p.arxiv_id) == 128


def test_crossref_children_inherit_title_and_date() -> None:
    software = records("carlostome_latex-biblio_software.bib")
    assert software["Agda2v2.6.1.3"].title == "Agda 2"
    assert software["Agda2v2.6.1.3"].published_on == date(2005, 1, 1)
    assert software["Jifv3.0"].title == "Jif: Java information flow"
    examples = records("plk_biblatex-examples.bib")
    # westfahl:space has no date of its own; its parent collection says 2000.
    assert examples["westfahl:space"].title == "The True Frontier"
    assert examples["westfahl:space"].published_on == date(2000, 1, 1)


def test_year_suffix_is_read_as_the_year() -> None:
    paper = records("d2l-en_d2l.bib")["touvron2023llama"]
    assert (paper.published_on, paper.published_precision) == (date(2023, 1, 1), YEAR)


def test_tex_escapes_are_removed_from_dois() -> None:
    dblp = records("carlostome_latex-biblio_dblp.bib")
    assert dblp["Abadi99"].doi == "10.1007/3-540-48749-2_2"
    math = records("carlostome_latex-biblio_MathSciNet.bib")
    assert math["Lack10"].doi == "10.1007/978-1-4419-1524-5_4"
    escaped = 0
    for name in ("carlostome_latex-biblio_dblp.bib", "carlostome_latex-biblio_MathSciNet.bib"):
        for record in split(bibtex.read(REALDATA / "bibtex" / name))[0]:
            if "\\_" in record.raw["fields"].get("doi", ""):
                escaped += 1
                assert "\\" not in record.paper.doi
    assert escaped == 44


def test_et_al_is_no_author() -> None:
    d2l = records("d2l-en_d2l.bib")
    abadi = d2l["Abadi.Barham.Chen.ea.2016"]
    assert abadi.authors[-1] == "Michael Isard" and len(abadi.authors) == 10
    assert all("et al" not in a for p in d2l.values() for a in p.authors)


def test_unknown_macros_keep_their_text() -> None:
    dblp = records("carlostome_latex-biblio_dblp.bib")
    assert dblp["AltenkirchHS96"].title == "Reduction-Free Normalisation for a Polymorphic System"
    examples = records("plk_biblatex-examples.bib")
    assert examples["knuth:ct:a"].title == "The TeXbook"
    assert examples["knuth:ct:b"].title == "TeX: The Program"


def test_year_only_date_never_moves_a_dated_paper() -> None:
    """The authors' own @misc{year={2025}, eprint={2507.10541}} must not move Jul 14 to Jan 1."""
    rest = records("opendatalab_REST_README_citation_lines144-152.bib")["pan2025REST"]
    assert (rest.arxiv_id, rest.published_on, rest.published_precision) == (
        "2507.10541",
        date(2025, 1, 1),
        YEAR,
    )
    hf = Paper(title=rest.title, arxiv_id="2507.10541", published_on=date(2025, 7, 14))
    assert hf.published_precision == DAY
    for merged in (merge(hf, rest), merge(rest, hf)):
        assert merged.published_on == date(2025, 7, 14)
        assert merged.published_precision == DAY
    layer_norm = records("d2l-en_d2l.bib")["Ba.Kiros.Hinton.2016"]
    assert layer_norm.published_precision == YEAR
    seed = Paper(title="Layer Normalization", published_on=date(2016, 7, 21))
    assert merge(seed, layer_norm).published_on == date(2016, 7, 21)


@pytest.mark.parametrize("digits", ["²⁰²⁴", "①②③④", "٢٠٢٤", "２０２４"])
@pytest.mark.parametrize("field", ["year", "month", "day", "date"])
def test_non_ascii_digits_in_dates_are_a_bad_record_not_a_crash(field: str, digits: str) -> None:
    extra = "year = {2024}, " if field in ("month", "day") else ""
    if field == "day":
        extra += "month = {3}, "
    text = f"@article{{k, title = {{T}}, {extra}{field} = {{{digits}}}}}"
    good, bad = split(bibtex.parse(text.encode(), "t.bib"))
    assert good == [] and len(bad) == 1
    assert "bad" in bad[0].reason
