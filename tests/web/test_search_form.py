"""The search page and /api/search as forms send them: empty fields, flags, 0, identifiers."""

from __future__ import annotations

from datetime import date

import pytest

from tests.web.conftest import add_papers, paper

DAY = date(2024, 9, 20)
EMPTY = "date_from=&date_to=&organization=&min_upvotes=&sort=&page="


@pytest.fixture
def corpus(pf) -> list[int]:
    return add_papers(
        pf,
        paper(
            "Quantization of transformers",
            DAY,
            0,
            organization="University of Auckland",
            github_url="https://github.com/a/b",
            arxiv_id="2401.05566",
        ),
        paper("Quantization in vision models", date(2023, 1, 5), 9, organization="Meta AI"),
        paper("Old style quantization", date(1999, 1, 1), 1, arxiv_id="hep-th/9901001"),
        paper("Unrelated biology of frogs", DAY, 0, doi="10.1234/Frog.42"),
    )


def test_every_field_empty_means_unset(client, corpus) -> None:
    page = client.get(f"/search?q=quantization&{EMPTY}&has_code=")
    assert page.status_code == 200 and "3 results" in page.text
    api = client.get(f"/api/search?q=quantization&{EMPTY}&has_code=&per_page=")
    assert api.status_code == 200 and api.json()["total"] == 3


@pytest.mark.parametrize("flag", ["true", "True", "TRUE", "1", "on", "ON", "yes"])
def test_has_code_accepts_every_spelling_of_true(client, corpus, flag: str) -> None:
    body = client.get(f"/api/search?q=quantization&has_code={flag}").json()
    assert [r["title"] for r in body["results"]] == ["Quantization of transformers"]
    assert "1 result" in client.get(f"/search?q=quantization&has_code={flag}").text


@pytest.mark.parametrize("flag", ["false", "False", "0", "off", ""])
def test_has_code_false_does_not_restrict(client, corpus, flag: str) -> None:
    assert client.get(f"/api/search?q=quantization&has_code={flag}").json()["total"] == 3


def test_bad_values_are_refused_with_400(client, corpus) -> None:
    for bad in ("has_code=maybe", "min_upvotes=x", "min_upvotes=-1", "page=0", "sort=best"):
        assert client.get(f"/api/search?q=quantization&{bad}").status_code == 400, bad
        assert client.get(f"/search?q=quantization&{bad}").status_code == 400, bad


def test_zero_upvotes_round_trips(client, corpus) -> None:
    page = client.get("/search?q=quantization&min_upvotes=0")
    assert page.status_code == 200 and "3 results" in page.text
    assert 'name="min_upvotes" min="0" value="0"' in page.text
    assert client.get("/api/search?q=quantization&min_upvotes=0").json()["total"] == 3
    assert client.get("/api/search?q=quantization&min_upvotes=5").json()["total"] == 1


def test_api_exposes_score_relevance_and_cutoff(client, corpus) -> None:
    body = client.get("/api/search?q=quantization").json()
    assert 0 < body["cutoff"] < 1
    assert all(r["relevance"] >= body["cutoff"] and r["score"] > 0 for r in body["results"])


def test_nonsense_shows_the_no_results_page_with_suggestions(client, corpus) -> None:
    page = client.get("/search?q=qwxzzkjh")
    assert page.status_code == 200 and 'id="no-results"' in page.text
    assert "Try fewer words" in page.text and 'href="/topics"' in page.text
    filtered = client.get("/search?q=qwxzzkjh&has_code=on")
    assert "Search again without filters" in filtered.text
    assert client.get("/api/search?q=banana+bread+recipe").json()["total"] == 0


def test_organization_prefix_or_word_any_case(client, corpus) -> None:
    for typed in ("auckland", "AUCK", "university of", "Univ"):
        body = client.get(f"/api/search?q=quantization&organization={typed}").json()
        assert [r["title"] for r in body["results"]] == ["Quantization of transformers"], typed
    page = client.get("/search?q=quantization")
    assert '<datalist id="organizations">' in page.text
    assert '<option value="Meta AI">' in page.text
    assert "organization=University%20of%20Auckland" in page.text


@pytest.mark.parametrize(
    "typed",
    [
        "2401.05566",
        "2401.05566v2",
        "arXiv:2401.05566",
        "https://arxiv.org/abs/2401.05566",
        "https://arxiv.org/pdf/2401.05566v1",
        "https://arxiv.org/pdf/2401.05566.pdf",
    ],
)
def test_arxiv_id_typed_in_search_opens_the_paper(client, corpus, typed: str) -> None:
    response = client.get("/search", params={"q": typed}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/papers/{corpus[0]}"
    body = client.get("/api/search", params={"q": typed}).json()
    assert body["engine"] == "identifier" and [r["id"] for r in body["results"]] == [corpus[0]]


def test_old_style_id_and_doi_typed_in_search_open_the_paper(client, corpus) -> None:
    for typed, pid in (
        ("hep-th/9901001", corpus[2]),
        ("10.1234/frog.42", corpus[3]),
        ("https://doi.org/10.1234/Frog.42", corpus[3]),
    ):
        response = client.get("/search", params={"q": typed}, follow_redirects=False)
        assert response.headers.get("location") == f"/papers/{pid}", typed


def test_paper_urls_by_arxiv_id_redirect_to_the_numeric_url(client, corpus) -> None:
    for path, target in (
        ("/papers/2401.05566", f"/papers/{corpus[0]}"),
        ("/papers/2401.05566v3", f"/papers/{corpus[0]}"),
        ("/papers/hep-th/9901001", f"/papers/{corpus[2]}"),
        ("/api/papers/2401.05566", f"/api/papers/{corpus[0]}"),
        ("/api/papers/hep-th/9901001v1", f"/api/papers/{corpus[2]}"),
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 308 and response.headers["location"] == target, path
    assert client.get("/api/papers/2401.05566").json()["id"] == corpus[0]
    assert client.get("/papers/2501.00001", follow_redirects=False).status_code == 404
    assert client.get(f"/papers/{corpus[0]}").status_code == 200


def test_saved_search_keeps_the_has_code_flag_whatever_its_case(signed_in, corpus) -> None:
    form = signed_in.get("/subscribe?kind=search&q=quantization&has_code=True")
    assert form.status_code == 200
    assert 'name="has_code" value="True"' in form.text


def test_search_feed_takes_the_page_parameters_and_the_cut_off(client, corpus) -> None:
    feed = client.get("/feeds/search.atom?q=quantization&date_from=&has_code=ON&sort=")
    assert feed.status_code == 200
    assert feed.text.count("<entry>") == 1 and "Quantization of transformers" in feed.text
    assert client.get("/feeds/search.atom?q=qwxzzkjh").text.count("<entry>") == 0
