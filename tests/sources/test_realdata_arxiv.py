"""Every real arXiv Atom and OAI-PMH response in ../shared/realdata (issue 13, defect 10)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from paperfeed.sources import SourceUnavailable
from paperfeed.sources.arxiv import ArxivClient, atom, oai
from paperfeed.sources.http import HttpResponse
from tests.sources.realdata import arxiv_api_body, by_key, count_xml, files, split

ATOM = files("atom")
OAI = files("oai", "*.xml")
# Error responses: the code each one must report.
OAI_ERRORS = {
    "saelim_ErrorResponseBadArgument.xml": "badArgument",
    "saelim_ErrorResponseBadResumptionToken.xml": "badResumptionToken",
    "saelim_ErrorResponseBadVerb.xml": "badVerb",
    "saelim_ErrorResponseIdDoesNotExist.xml": "idDoesNotExist",
    "saelim_ErrorResponseNoRecordsMatch.xml": "noRecordsMatch",  # an unknown set
    "sickle_spec_badResumptionToken.xml": "badResumptionToken",
}


def test_every_real_file_is_read() -> None:
    assert len(ATOM) == 13 and len(OAI) == 24


@pytest.mark.parametrize("path", ATOM, ids=lambda p: p.name)
def test_every_atom_entry_is_accepted_or_rejected(path: Path) -> None:
    body = arxiv_api_body(path)
    page = atom.parse_atom(body, path.name)
    good, bad = split(page.items)
    assert len(good) + len(bad) == count_xml(body, b"entry") == page.entries
    if "_abc_" in path.name:  # arXiv's error feed: one entry that is an error message
        assert good == [] and "incorrect id format" in bad[0].reason
    else:
        assert bad == []


def test_atom_fields_of_named_records() -> None:
    path = next(p for p in ATOM if "quant-ph_0201082" in p.name)
    record = split(atom.parse_atom(arxiv_api_body(path), path.name).items)[0][0]
    assert record.external_key == "quant-ph/0201082"
    assert record.paper.published_on == date(2002, 1, 18)  # <published>2002-01-18T15:08:05Z


@pytest.mark.parametrize("path", OAI, ids=lambda p: p.name)
def test_every_oai_record_is_accepted_rejected_or_deleted(path: Path) -> None:
    data = path.read_bytes()
    page = oai.parse_oai(data, path.name)
    good, bad = split(page.items)
    if path.name in OAI_ERRORS:
        assert good == [] and len(bad) == 1
        assert page.error and OAI_ERRORS[path.name] in page.error
        return
    assert page.error is None
    assert len(good) + len(bad) + page.deleted == count_xml(data, b"record")
    if path.name == "sickle_spec_ListRecords.xml":  # a non-arXiv repository's oai_dc
        assert (len(good), page.deleted) == (0, 1)
        assert "unsupported metadata format" in bad[0].reason
    else:
        assert bad == []


def test_oai_total_and_named_fields() -> None:
    total = 0
    for path in OAI:
        total += len(split(oai.parse_oai(path.read_bytes(), path.name).items)[0])
    assert total == 25  # hepcrawl's hand-edited record0 (no xmlns on <arXiv>) included
    page = oai.parse_oai((OAI[0].parent / "saelim_ListRecordsResponse.xml").read_bytes(), "p")
    assert page.resumption_token == "726959|1001" and page.complete_list_size == 58011
    records = by_key(split(page.items)[0])
    assert records["0704.0471"].paper.published_on == date(2007, 4, 3)
    assert records["0704.0471"].paper.authors[:2] == ("D.V. Shetty", "S.J. Yennello")


def test_an_unknown_set_is_an_error_with_a_hint_but_a_quiet_day_is_not() -> None:
    folder = OAI[0].parent
    unknown = oai.parse_oai((folder / "saelim_ErrorResponseNoRecordsMatch.xml").read_bytes(), "u")
    assert unknown.error and "The setSpec was 'moo'" in unknown.error
    assert "categories such as cs.LG are not sets" in unknown.error
    quiet = oai.parse_oai((OAI[0].parent / "sickle_spec_noRecordsMatch.xml").read_bytes(), "q")
    assert quiet.error is None and quiet.items == []


def test_a_harvest_of_an_unknown_set_raises_and_leaves_no_response_date() -> None:
    body = (OAI[0].parent / "saelim_ErrorResponseNoRecordsMatch.xml").read_bytes()
    client = ArxivClient(http_get=lambda url, headers, timeout: HttpResponse(200, {}, body))
    client.sleep = lambda seconds: None
    with pytest.raises(SourceUnavailable, match="noRecordsMatch"):
        list(client.harvest("cs.LG", None))
    assert client.response_date is None  # so the CLI cannot advance the harvest state
