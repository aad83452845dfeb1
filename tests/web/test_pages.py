"""Pages through the real app: lists, navigation, paper page, errors, escaping."""

from __future__ import annotations

from datetime import date

from tests.web.conftest import add_papers, paper

DAY = date(2024, 9, 20)


def test_empty_catalogue_home_shows_empty_state(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "No papers yet" in response.text


def test_home_lists_newest_day_most_upvoted_first(client, pf):
    add_papers(
        pf,
        paper("Older paper", date(2024, 9, 19), 50),
        paper("Few votes today", DAY, 3),
        paper("Many votes today", DAY, 40),
    )
    text = client.get("/").text
    assert "Older paper" not in text
    assert text.index("Many votes today") < text.index("Few votes today")
    assert "Friday, September 20, 2024" in text


def test_daily_navigation_links_to_nearest_days_with_papers(client, pf):
    add_papers(
        pf,
        paper("First", date(2024, 9, 1)),
        paper("Middle", date(2024, 9, 10)),
        paper("Last", date(2024, 9, 25)),
    )
    text = client.get("/?period=daily&date=2024-09-10").text
    assert 'href="/?period=daily&amp;date=2024-09-01"' in text
    assert 'href="/?period=daily&amp;date=2024-09-25"' in text
    assert "Middle" in text and "First" not in text


def test_weekly_and_monthly_tabs_group_days(client, pf):
    add_papers(
        pf,
        paper("Monday paper", date(2024, 9, 16)),
        paper("Sunday paper", date(2024, 9, 22)),
        paper("Next Monday paper", date(2024, 9, 23)),
    )
    week = client.get("/?period=weekly&date=2024-09-18").text
    assert "Monday paper" in week and "Sunday paper" in week
    assert "Next Monday paper" not in week
    month = client.get("/?period=monthly&date=2024-09-18").text
    assert all(t in month for t in ("Monday paper", "Sunday paper", "Next Monday paper"))
    assert "September 2024" in month


def test_bad_period_or_date_is_a_400_page_without_trace(client):
    for url in ("/?period=yearly", "/?date=2024-13-45", "/?date=0001-01-01"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "Traceback" not in response.text
        assert "<h1>400" in response.text


def test_unknown_page_is_a_404_html_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


def test_paper_page_shows_abstract_sources_links_and_bibtex(client, pf):
    [pid] = add_papers(
        pf,
        paper(
            "Attention Is All You Need",
            DAY,
            7,
            arxiv_id="1706.03762",
            authors=("Ashish Vaswani", "Noam Shazeer"),
            github_url="https://github.com/tensorflow/tensor2tensor",
            abstract="The dominant sequence transduction models are based on recurrent networks.",
        ),
    )
    text = client.get(f"/papers/{pid}").text
    assert "The dominant sequence transduction models" in text
    assert "https://arxiv.org/pdf/1706.03762" in text
    assert "https://github.com/tensorflow/tensor2tensor" in text
    assert "@misc{vaswani2024attention" in text
    assert "<strong>test</strong>" in text  # the source it was seen in
    bib = client.get(f"/papers/{pid}/bibtex")
    assert bib.text.startswith("@misc{vaswani2024attention,")
    assert "author = {Ashish Vaswani and Noam Shazeer}" in bib.text


def test_paper_page_lists_similar_papers(client, pf):
    ids = add_papers(
        pf,
        paper("Quantization of large language models", DAY),
        paper("Low-bit quantization for language models", DAY),
        paper("Protein folding with diffusion", DAY),
    )
    text = client.get(f"/papers/{ids[0]}").text
    similar = text.split("Similar papers", 1)[1]
    assert "Low-bit quantization for language models" in similar
    assert "Protein folding" not in similar


def test_missing_paper_is_404(client):
    assert client.get("/papers/999999").status_code == 404
    assert client.get("/papers/99999999999999999999999").status_code in (404, 422)


def test_hostile_title_renders_as_text_everywhere(client, pf):
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    [pid] = add_papers(
        pf,
        paper(
            evil + " quantization",
            DAY,
            5,
            organization='<b onmouseover="x">Org</b>',
            github_url="javascript:alert(3)",
            abstract=evil + " quantization of models " * 20,
        ),
    )
    pages = [
        "/",
        "/trending",
        f"/papers/{pid}",
        "/search?q=quantization",
        "/orgs/" + '<b onmouseover="x">Org</b>',
        "/orgs",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<script>alert" not in response.text, url
        assert "<img src=x" not in response.text, url
        assert 'onmouseover="x">' not in response.text, url
        assert "javascript:alert" not in response.text, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/papers/{pid}").text


def test_security_headers_and_request_id_on_every_response(client):
    for url in ("/", "/api/trending", "/nope", "/static/style.css"):
        response = client.get(url)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"]
        assert len(response.headers["x-request-id"]) >= 8
    assert client.get("/", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"


def test_an_access_log_line_names_its_request_once(client):
    import io
    import logging

    from paperfeed import logs

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs._Context(logging.INFO))
    handler.setFormatter(logging.Formatter(logs.TEXT_FORMAT))
    access = logging.getLogger("paperfeed.web.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        client.get("/about", headers={"X-Request-ID": "rid-once-1"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    [line] = out.getvalue().splitlines()
    assert '"GET /about" 200' in line and line.count("rid-once-1") == 1, line


def test_no_inline_scripts_in_pages(client, pf):
    [pid] = add_papers(pf, paper("Some paper", DAY))
    for url in (
        "/",
        f"/papers/{pid}",
        "/search?q=paper",
        "/signin",
        "/signup",
        "/about",
        "/api/docs",
    ):
        text = client.get(url).text
        for chunk in text.split("<script")[1:]:
            assert chunk.lstrip().startswith("src="), (url, chunk[:80])
        assert " onclick=" not in text and " onload=" not in text


def test_healthz_is_liveness_and_readyz_checks_the_database(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok" and ready.json()["status"] == "ready"


def test_unhandled_error_is_logged_and_shows_no_trace(app, pf, caplog):
    from fastapi.testclient import TestClient

    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom-for-test", headers={"accept": "text/html"})
        api = c.get("/api/boom-for-test")
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text
    rid = response.headers["x-request-id"]
    assert rid in response.text
    assert any(rid in r.getMessage() for r in caplog.records)
    assert api.status_code == 404 and api.json()["error"]["status"] == 404
