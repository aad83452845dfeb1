"""The web UI's plumbing through the real app: compression, cache lifetimes of
content-hashed static files, share tags, feed and email buttons, topic feeds,
dated submissions, the admin section and `paperfeed users promote`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from typer.testing import CliRunner

from paperfeed.catalogue import accounts
from paperfeed.web.assets import digest
from tests.web.conftest import add_papers, paper, sign_up


def test_pages_are_gzipped_when_the_browser_accepts_it(client, pf):
    add_papers(pf, *(paper(f"Paper number {i}", date(2024, 3, 1)) for i in range(20)))
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "Paper number 7" in response.text
    plain = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_static_files_have_hashed_urls_cached_for_a_year(client):
    page = client.get("/about").text
    urls = re.findall(r'(?:href|src)="(/static/[0-9a-f]{12}/[^"]+)"', page)
    assert {u.rsplit("/", 1)[1] for u in urls} >= {"style.css", "app.js", "theme.js"}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert f"/static/{digest('style.css')}/style.css" in urls
    # A stale hash still gets the file, but only for a short while; so does the plain path.
    for url in ("/static/000000000000/style.css", "/static/style.css"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=3600"
    assert client.get("/static/0123456789ab/nope.css").status_code == 404


def test_paper_page_has_description_and_share_tags(client, pf):
    (pid,) = add_papers(pf, paper("Sharing <b>papers</b> well", date(2024, 3, 1)))
    page = client.get(f"/papers/{pid}").text
    assert '<meta name="description" content="We study sharing &lt;b&gt;papers&lt;/b&gt;' in page
    assert '<meta property="og:title" content="Sharing &lt;b&gt;papers&lt;/b&gt; well">' in page
    assert '<meta property="og:type" content="article">' in page
    assert '<meta name="twitter:card" content="summary">' in page
    assert f'<meta property="og:url" content="http://127.0.0.1:8000/papers/{pid}">' in page
    assert '<meta name="description"' in client.get("/").text


def test_list_pages_show_rss_and_email_buttons(client, pf):
    add_papers(pf, paper("Robots that fold laundry", date(2024, 3, 1), organization="Lab X"))
    expected = {
        "/": ("/feeds/daily.rss", "/subscribe?kind=trending&amp;cadence=daily"),
        "/?period=weekly": ("/feeds/weekly.rss", "/subscribe?kind=trending&amp;cadence=weekly"),
        "/trending": ("/feeds/trending.rss", "/subscribe?kind=trending"),
        "/search?q=robots": ("/feeds/search.rss?q=robots", "/subscribe?kind=search&amp;q=robots"),
        "/orgs/Lab%20X": (
            "/feeds/orgs/Lab%20X.rss",
            "/subscribe?kind=search&amp;organization=Lab+X",
        ),
    }
    for path, (rss, email) in expected.items():
        page = client.get(path).text
        assert f'class="button button-small button-ghost feed-button" href="{rss}"' in page, path
        assert f'class="button button-small button-ghost email-button" href="{email}"' in page, path
        assert client.get(rss.replace("&amp;", "&")).status_code == 200


def test_search_page_has_one_search_box_and_an_h1(client):
    page = client.get("/search?q=robots").text
    assert page.count('type="search"') == 1
    assert "<h1" in page
    assert page.count('type="search"') and client.get("/").text.count('type="search"') == 1


def test_submitted_paper_gets_the_date_given_and_appears_in_that_days_list(signed_in, pf):
    day = date.today() - timedelta(days=3)
    response = signed_in.post(
        "/submit",
        data={
            "csrf_token": signed_in.csrf,
            "title": "A paper submitted with a date",
            "abstract": "We show that submitted papers appear in daily lists.",
            "published_on": day.isoformat(),
        },
    )
    assert response.status_code == 200 and "Thank you" in response.text
    listing = signed_in.get(f"/?date={day.isoformat()}").text
    assert "A paper submitted with a date" in listing
    # Without a date the paper is today's.
    signed_in.post(
        "/submit",
        data={
            "csrf_token": signed_in.csrf,
            "title": "A paper submitted today",
            "abstract": "We show that the date defaults to the day of submission.",
        },
    )
    assert "A paper submitted today" in signed_in.get(f"/?date={date.today().isoformat()}").text
    future = signed_in.post(
        "/submit",
        data={
            "csrf_token": signed_in.csrf,
            "title": "From the future",
            "abstract": "We show that a date in the future is refused politely.",
            "published_on": (date.today() + timedelta(days=2)).isoformat(),
        },
    )
    assert future.status_code == 400 and "future" in future.text


def test_topic_feed_and_topic_page_list_every_paper_with_more_pages(client, corpus, pf):
    from paperfeed.ranking import topics

    topics.build(pf.db, k=3)
    topic_id = int(re.search(r'href="/topics/(\d+)"', client.get("/topics").text).group(1))
    page = client.get(f"/topics/{topic_id}").text
    assert page.count('class="paper-card"') == 12
    assert (
        'class="pf-tick pf-y-papers"' in page
        and 'class="pf-tick pf-legend-votes pf-y-votes"' in page
    )
    feed = client.get(f"/feeds/topics/{topic_id}.rss")
    assert feed.status_code == 200 and feed.text.count("<item>") == 12
    assert client.get(f"/feeds/topics/{topic_id}.atom").status_code == 200
    assert client.get("/feeds/topics/99999.rss").status_code == 404
    assert f'href="/feeds/topics/{topic_id}.rss"' in page


def test_admin_section_needs_an_admin_made_with_the_cli(app, pf, settings, monkeypatch):
    from fastapi.testclient import TestClient

    from paperfeed.cli import app as cli

    with TestClient(app) as web:
        email = sign_up(web)
        assert web.get("/admin").status_code == 403
        assert 'href="/admin"' not in web.get("/").text
        env = {
            "PAPERFEED_DATABASE_URL": settings.database_url,
            "PAPERFEED_HOME": str(settings.home),
        }
        result = CliRunner().invoke(cli, ["users", "promote", email], env=env)
        assert result.exit_code == 0, result.output
        assert "now an administrator" in result.output
        page = web.get("/admin")
        assert page.status_code == 200
        assert email in page.text and "Import runs" in page.text
        assert 'href="/admin"' in web.get("/").text
        delivery = web.get("/admin/delivery")
        assert delivery.status_code == 200 and "{'" not in delivery.text
        missing = CliRunner().invoke(cli, ["users", "promote", "nobody@example.org"], env=env)
        assert missing.exit_code == 1
        CliRunner().invoke(cli, ["users", "demote", email], env=env)
        assert web.get("/admin").status_code == 403
    with pf.db.transaction() as conn:
        assert not accounts.authenticate(conn, email, "correct horse").is_admin
