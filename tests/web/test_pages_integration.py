"""The personal layer woven into the shared pages: header links, Save buttons, rising topics."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

from paperfeed.config import DEFAULTS
from paperfeed.model import Paper
from paperfeed.ranking import topics
from paperfeed.web import cached, create_app, finder
from tests.factories import add_papers, set_embeddings, topic_vector
from tests.web.conftest import sign_up

SAVE_FORM = 'action="/papers/{}/save"'


@pytest.fixture(autouse=True)
def keyword_search_and_fresh_caches(monkeypatch):
    # As in tests/web: search by keyword only (no embedding model) and empty caches.
    monkeypatch.setitem(finder._embedders, DEFAULTS["embedding_model"], None)
    cached.clear()


@pytest.fixture
def anon(pf):
    with TestClient(create_app(pf)) as client:
        yield client


@pytest.fixture
def web(pf):
    with TestClient(create_app(pf)) as client:
        sign_up(client)
        yield client


def _nav(html: str) -> str:
    return html.split('<nav class="main-nav"', 1)[1].split("</nav>", 1)[0]


def test_header_links_to_for_you_library_and_topics_on_every_page(anon, web, corpus):
    for client, path in [(anon, "/"), (anon, "/topics"), (web, "/for-you"), (web, "/library")]:
        nav = _nav(client.get(path).text)
        for href in ("/for-you", "/library", "/topics"):
            # Exactly once: the personal pages no longer add their own copy of the links.
            assert nav.count(f'href="{href}"') == 1, (path, href)


def test_signed_in_user_sees_save_buttons_on_home_and_paper_pages(web, corpus):
    first = corpus.ids["graphs"][0]
    assert web.post(f"/api/library/{first}", headers={"X-CSRF-Token": web.csrf}).status_code == 200
    home = web.get("/?period=monthly&date=2024-01-15").text
    assert home.count('class="pf-actions"') >= 10
    assert SAVE_FORM.format(first) in home and "★ Saved" in home
    paper = web.get(f"/papers/{corpus.ids['speech'][0]}").text
    assert SAVE_FORM.format(corpus.ids["speech"][0]) in paper and "☆ Save" in paper
    assert "★ Saved" in web.get(f"/papers/{first}").text


def test_save_button_on_a_search_result_saves_and_returns_to_the_search(web, corpus):
    results = web.get("/search?q=speech").text
    target = corpus.ids["speech"][0]
    assert SAVE_FORM.format(target) in results
    response = web.post(
        f"/papers/{target}/save",
        data={"csrf_token": web.csrf, "next": "/search?q=speech", "action": "save"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/search?q=speech"
    assert target in [i["id"] for i in web.get("/api/library").json()["items"]]


def test_anonymous_visitors_see_no_save_buttons(anon, corpus):
    assert "pf-actions" not in anon.get("/?period=monthly&date=2024-01-15").text
    assert "pf-actions" not in anon.get(f"/papers/{corpus.ids['graphs'][0]}").text
    assert "pf-actions" not in anon.get("/search?q=speech").text


def test_home_shows_rising_topics_only_once_a_topic_rises(pf, anon, corpus):
    assert 'id="rising-topics"' not in anon.get("/").text
    topics.build(pf.db, k=3)
    rng = np.random.default_rng(9)
    last = date(2024, 3, 25)
    burst = add_papers(
        pf,
        [
            Paper(title=f"Robot burst {i}", abstract="robot arms", listed_on=last - timedelta(i))
            for i in range(8)
        ],
    )
    set_embeddings(pf, {pid: topic_vector("robots", rng) for pid in burst})
    topics.assign_new(pf.db)
    cached.clear()
    box = anon.get("/").text.split('id="rising-topics"', 1)[1].split("</aside>", 1)[0]
    assert "Rising topics" in box and "robot" in box and 'href="/topics/' in box
