"""The personal pages and API through the real app: library, for-you, feed, topic map."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from paperfeed.ranking import topics
from paperfeed.web import create_app
from tests.web.conftest import sign_up


@pytest.fixture
def web(pf):
    with TestClient(create_app(pf)) as client:
        sign_up(client)
        yield client


def _save(web, pid):
    r = web.post(f"/api/library/{pid}", headers={"X-CSRF-Token": web.csrf})
    assert r.status_code == 200, r.text


def test_pages_need_a_signed_in_user(pf):
    with TestClient(create_app(pf)) as anon:
        # A browser is sent to sign in and back; the API answers 401.
        page = anon.get("/for-you", headers={"accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/signin?next=/for-you"
        r = anon.get("/api/library")
        assert r.status_code == 401 and r.json()["error"]["status"] == 401


def test_saving_without_csrf_is_refused(web, corpus):
    r = web.post(f"/api/library/{corpus.ids['graphs'][0]}")
    assert r.status_code == 403


def test_save_then_for_you_shows_picks_with_reasons(web, corpus):
    assert "Start your feed" in web.get("/for-you").text
    _save(web, corpus.ids["graphs"][0])
    page = web.get("/for-you?window=all").text
    assert page.count('class="pf-pick"') >= 5
    assert "in your library" in page
    data = web.get("/api/for-you?limit=5").json()["picks"]
    assert len(data) == 5 and all(p["reason_paper_id"] == corpus.ids["graphs"][0] for p in data)


def test_for_you_cards_are_the_list_cards_with_links_summary_and_in_place_save(
    web, corpus, pf
):
    _save(web, corpus.ids["graphs"][0])
    pick = web.get("/api/for-you?limit=1").json()["picks"][0]["paper_id"]
    with pf.db.transaction() as conn:
        conn.execute(
            "INSERT INTO paper_links (paper_id, url, kind, label, origin)"
            " VALUES (%s, 'https://huggingface.co/spaces/demo/graph', 'hf_space', 'demo/graph',"
            " 'test')",
            (pick,),
        )
        conn.execute(
            "INSERT INTO paper_summaries (paper_id, summary, key_phrases, origin, text_md5)"
            " VALUES (%s, 'Graphs, summarised in one line.', '{graph kernels}', 'hf', 'x')",
            (pick,),
        )
    page = web.get("/for-you?window=all").text
    card = page[page.index(f'id="paper-{pick}"') :]
    card = card[: card.index("</article>")]
    assert 'href="https://huggingface.co/spaces/demo/graph"' in card
    assert "Graphs, summarised in one line." in card and "graph kernels" in card
    # Save sits inside the card and is the in-place form app.js takes over.
    assert 'class="inline-form save-form"' in card and 'class="pf-pick"' in card


def test_not_interested_form_removes_the_paper_from_the_feed(web, corpus):
    _save(web, corpus.ids["graphs"][0])
    first = web.get("/api/for-you?limit=1").json()["picks"][0]["paper_id"]
    r = web.post(
        f"/papers/{first}/not-interested",
        data={"csrf_token": web.csrf, "next": "/for-you"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/for-you"
    ids = [p["paper_id"] for p in web.get("/api/for-you?limit=30").json()["picks"]]
    assert first not in ids


def test_library_export_and_import_through_the_pages(web, corpus):
    for pid in corpus.ids["robots"][:3]:
        _save(web, pid)
    bib = web.get("/library/export.bib")
    assert bib.status_code == 200 and bib.text.count("@article{") == 3
    assert "attachment" in bib.headers["content-disposition"]
    web.delete(f"/api/library/{corpus.ids['robots'][0]}", headers={"X-CSRF-Token": web.csrf})
    r = web.post(
        "/library/import",
        data={"csrf_token": web.csrf},
        files={"file": ("mine.bib", bib.content + b"\n@article{x, title={Unknown one}}\n")},
    )
    assert r.status_code == 200
    assert re.search(r"4 entries read: <strong>3</strong> matched", r.text)
    assert "Unknown one" in r.text
    assert len(web.get("/api/library").json()["items"]) == 3
    assert web.get("/library/export.csv").text.count("\n") == 4


def test_a_paper_taken_out_of_a_folder_stays_saved(web, corpus):
    a, b = corpus.ids["graphs"][:2]
    web.post("/library/folders", data={"csrf_token": web.csrf, "name": "To read"})
    [folder] = re.findall(r'href="/library\?folder=(\d+)"', web.get("/library").text)
    for pid in (a, b):
        _save(web, pid)
        edit = {"csrf_token": web.csrf, "folder": folder, "tags": "", "note": ""}
        assert web.post(f"/library/{pid}/edit", data=edit).status_code == 200
    page = web.get(f"/library?folder={folder}").text
    assert page.count("Remove from this folder") == 2
    r = web.post(
        f"/library/folders/{folder}/remove/{a}",
        data={"csrf_token": web.csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/library?folder={folder}"
    page = web.get(f"/library?folder={folder}").text
    assert f'id="paper-{b}"' in page and f'id="paper-{a}"' not in page
    assert {i["id"] for i in web.get("/api/library").json()["items"]} == {a, b}
    forged = web.post(f"/library/folders/{folder}/remove/{b}", data={"csrf_token": "x"})
    assert forged.status_code == 403


def test_private_atom_feed_works_with_its_token_and_dies_when_revoked(web, corpus):
    _save(web, corpus.ids["speech"][0])
    page = web.get("/for-you").text
    url = re.search(r'value="(http[^"]+feed\.atom\?token=[^"]+)"', page).group(1)
    path = url.split("8000", 1)[1] if "8000" in url else url
    feed = web.get(path)
    assert feed.status_code == 200
    root = ET.fromstring(feed.content)
    entries = root.findall("{http://www.w3.org/2005/Atom}entry")
    assert entries and "Why: close to" in ET.tostring(entries[0], encoding="unicode")
    assert web.get(path[:-4] + "0000").status_code == 404
    web.post("/for-you/feed-token", data={"csrf_token": web.csrf})
    assert web.get(path).status_code == 404


def test_topic_map_and_trend_chart_render_as_svg(pf, web, corpus):
    topics.build(pf.db, k=3)
    page = web.get("/topics").text
    assert page.count("<circle") == 36
    assert '<a href="/papers/' in page and "<title>" in page
    topic_id = re.search(r'href="/topics/(\d+)"', page).group(1)
    chart = web.get(f"/topics/{topic_id}").text
    assert 'id="trend-chart"' in chart and "<polyline" in chart
    assert web.get("/topics/999999").status_code == 404
    assert len(web.get("/api/topics").json()["topics"]) == 3
