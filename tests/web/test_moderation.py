"""Admin moderation through the real app: hide, restore and delete papers, the review
queue for new accounts' submissions, and a running import's live progress."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.catalogue import admin, ingest, moderation
from paperfeed.delivery import candidates
from paperfeed.model import Paper, Record
from paperfeed.ranking import lists
from paperfeed.web import create_app
from tests.factories import killed_at_the_hold
from tests.web.conftest import sign_up


def _make_admin(pf: Paperfeed, client: TestClient) -> TestClient:
    email = sign_up(client)
    with pf.db.transaction() as conn:
        admin.set_admin(conn, email)
    return client


def _post(client: TestClient, path: str, **data: str):
    token = client.csrf  # type: ignore[attr-defined]
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


@pytest.fixture
def admin_client(app, pf) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield _make_admin(pf, client)


def _views(pf: Paperfeed, visitor: TestClient, paper_id: int, neighbour: int) -> dict[str, bool]:
    """Whether the paper shows in each public view."""
    with pf.db.transaction() as conn:
        paper = lists.get_paper(conn, paper_id)
        digest = [p["id"] for p in candidates.top_in_window(conn, paper["day"], paper["day"], 50)]
    title, day = paper["title"], paper["day"].isoformat()
    marker = f'id="paper-{paper_id}"'
    similar = visitor.get(f"/api/papers/{neighbour}/similar", params={"limit": 30}).json()
    api_list = visitor.get("/api/papers", params={"period": "monthly", "date": day}).json()
    return {
        "daily list": marker in visitor.get("/", params={"period": "daily", "date": day}).text,
        "monthly list": marker in visitor.get("/", params={"period": "monthly", "date": day}).text,
        "trending": marker in visitor.get("/trending").text,
        "search": marker in visitor.get("/search", params={"q": title}).text,
        "search feed": f"/papers/{paper_id}<" in visitor.get(
            "/feeds/search.rss", params={"q": title}
        ).text,
        "monthly feed": f"/papers/{paper_id}<" in visitor.get("/feeds/monthly.rss").text,
        "paper page": visitor.get(f"/papers/{paper_id}").status_code == 200,
        "api paper": visitor.get(f"/api/papers/{paper_id}").status_code == 200,
        "api list": any(p["id"] == paper_id for p in api_list["papers"]),
        "similar": any(p["id"] == paper_id for p in similar["papers"]),
        "digest": paper_id in digest,
    }


def test_a_hidden_paper_leaves_every_public_view_until_an_admin_restores_it(
    app, pf, corpus, admin_client
):
    target, neighbour = corpus.ids["graphs"][-1], corpus.ids["graphs"][-2]
    with TestClient(app) as visitor:
        sign_up(visitor)
        r = visitor.post(f"/api/library/{target}", headers={"X-CSRF-Token": visitor.csrf})
        assert r.status_code == 200
        before = _views(pf, visitor, target, neighbour)
        assert all(before.values()), before

        r = _post(admin_client, f"/admin/papers/{target}/hide", note="duplicate of another")
        assert r.status_code == 303 and r.headers["location"] == "/admin/papers"
        hidden = _views(pf, visitor, target, neighbour)
        assert not any(hidden.values()), hidden
        # Votes and library entries stay; the saver's library still lists it.
        assert f'id="paper-{target}"' in visitor.get("/library").text
        # A hidden paper takes no votes.
        r = visitor.post(f"/api/papers/{target}/vote", headers={"X-CSRF-Token": visitor.csrf})
        assert r.status_code == 404

        # The admin still sees it, says why, and finds it in the table.
        page = admin_client.get(f"/papers/{target}")
        assert page.status_code == 200 and "Hidden by an administrator" in page.text
        table = admin_client.get("/admin/papers", params={"state": "hidden"}).text
        assert f'id="admin-paper-{target}"' in table and "duplicate of another" in table
        assert f'id="admin-paper-{neighbour}"' not in table
        assert admin_client.get("/api/papers/" + str(target)).status_code == 200

        back = "/admin/papers?state=hidden"
        r = _post(admin_client, f"/admin/papers/{target}/restore", back=back)
        assert r.status_code == 303 and r.headers["location"] == "/admin/papers?state=hidden"
        assert "is back in every list" in admin_client.get(r.headers["location"]).text
        assert all(_views(pf, visitor, target, neighbour).values())


def test_hidden_papers_are_no_ones_for_you_pick(pf, corpus, app):
    with TestClient(app) as reader:
        sign_up(reader)
        saved = corpus.ids["graphs"][0]
        reader.post(f"/api/library/{saved}", headers={"X-CSRF-Token": reader.csrf})
        first = reader.get("/api/for-you?limit=5").json()["picks"][0]["paper_id"]
        with pf.db.transaction() as conn:
            moderation.hide(conn, [first], None)
        picks = [p["paper_id"] for p in reader.get("/api/for-you?limit=30").json()["picks"]]
        assert picks and first not in picks
        assert f'id="paper-{first}"' not in reader.get("/for-you?window=all").text


def test_delete_keeps_a_paper_people_use_unless_told(app, pf, corpus, admin_client):
    used, unused = corpus.ids["speech"][0], corpus.ids["speech"][1]
    with TestClient(app) as reader:
        sign_up(reader)
        assert reader.post(
            f"/api/papers/{used}/vote", headers={"X-CSRF-Token": reader.csrf}
        ).status_code == 200
    table = admin_client.get("/admin/papers", params={"q": str(used)}).text
    assert f'id="admin-paper-{used}"' in table and "with its votes, saves and comments" in table

    r = _post(admin_client, f"/admin/papers/{used}/delete")
    assert "Not deleted: people voted for" in admin_client.get(r.headers["location"]).text
    assert admin_client.get(f"/papers/{used}").status_code == 200

    r = _post(admin_client, f"/admin/papers/{used}/delete", including_used="true")
    assert "The paper is deleted" in admin_client.get(r.headers["location"]).text
    assert admin_client.get(f"/papers/{used}").status_code == 404
    r = _post(admin_client, f"/admin/papers/{unused}/delete", back="//evil.example/")
    assert r.headers["location"] == "/admin/papers"  # only admin paths are redirect targets
    assert admin_client.get(f"/api/papers/{unused}").status_code == 404


def test_moderation_needs_an_admin_and_the_csrf_token(app, pf, corpus, admin_client):
    target = corpus.ids["speech"][2]
    # Without the token (the admin's own session): refused, nothing changed.
    r = admin_client.post(f"/admin/papers/{target}/hide", follow_redirects=False)
    assert r.status_code == 403
    with TestClient(app) as other:
        sign_up(other)
        assert other.get("/admin/papers").status_code == 403
        assert other.get("/admin/imports.json").status_code == 403
        for action in ("hide", "restore", "delete"):
            assert _post(other, f"/admin/papers/{target}/{action}").status_code == 403
    with pf.db.transaction() as conn:
        assert not moderation.hidden_among(conn, [target])
        assert lists.paper_exists(conn, target)


@pytest.fixture
def review_app(settings):
    """The app with PAPERFEED_REVIEW_NEW_SUBMISSIONS=7."""
    with Paperfeed(dataclasses.replace(settings, review_new_submissions=7)) as pf:
        yield pf, create_app(pf)


def test_a_new_accounts_submission_waits_for_an_admin(review_app):
    pf, app = review_app
    title = "Quokka lattices for sparse attention"
    with TestClient(app) as submitter, TestClient(app) as visitor, TestClient(app) as boss:
        _make_admin(pf, boss)
        sign_up(submitter)
        r = submitter.post(
            "/submit",
            data={
                "csrf_token": submitter.csrf,
                "title": title,
                "abstract": "We arrange quokka lattices so that sparse attention needs less.",
                "authors": "Ada Quokka",
                "published_on": date.today().isoformat(),
            },
        )
        assert r.status_code == 200 and "checked by an administrator first" in r.text
        with pf.db.transaction() as conn:
            paper_id = conn.execute(
                "SELECT id FROM papers WHERE title = %s", (title,)
            ).fetchone()["id"]
        # The submitter sees it as awaiting review, on the form and on its page.
        assert "awaiting review" in submitter.get("/submit").text
        assert "Awaiting review" in submitter.get(f"/papers/{paper_id}").text

        def public() -> list[bool]:
            return [
                f'id="paper-{paper_id}"' in visitor.get("/").text,
                f'id="paper-{paper_id}"' in visitor.get("/search", params={"q": "quokka"}).text,
                f"/papers/{paper_id}<" in visitor.get("/feeds/daily.rss").text,
                f"/papers/{paper_id}<" in visitor.get("/feeds/search.rss?q=quokka").text,
                visitor.get(f"/papers/{paper_id}").status_code == 200,
            ]

        assert public() == [False] * 5
        # Admins' own submissions are never held.
        r = boss.post(
            "/submit",
            data={
                "csrf_token": boss.csrf,
                "title": "Wombat pooling",
                "abstract": "Wombat pooling is an admin's paper and needs no review at all.",
            },
        )
        assert "now in the catalogue" in r.text

        overview = boss.get("/admin").text
        with pf.db.transaction() as conn:
            sub = conn.execute(
                "SELECT id FROM submissions WHERE paper_id = %s", (paper_id,)
            ).fetchone()["id"]
        assert f'action="/admin/submissions/{sub}/approve"' in overview
        assert _post(submitter, f"/admin/submissions/{sub}/approve").status_code == 403
        r = _post(boss, f"/admin/submissions/{sub}/approve")
        assert r.status_code == 303 and "Approved" in boss.get(r.headers["location"]).text
        assert public() == [True] * 5
        assert "awaiting review" not in submitter.get("/submit").text
        # Approved: nothing left to approve.
        assert _post(boss, f"/admin/submissions/{sub}/approve").status_code == 404


def test_a_new_accounts_paper_is_never_committed_visible(review_app):
    """The hold commits with the paper: stalled where it writes the hold, the submission
    has committed nothing public, and killed there (a crash) it leaves nothing public.
    Before, the paper was committed by the import and held by a second transaction."""
    pf, app = review_app
    title = "Numbat routing for mixture of experts"
    with TestClient(app) as submitter:
        sign_up(submitter)
        statuses: list[int] = []

        def submit() -> None:
            r = submitter.post(
                "/submit",
                data={
                    "csrf_token": submitter.csrf,
                    "title": title,
                    "abstract": "Numbat routing sends each token to the expert it needs.",
                },
            )
            statuses.append(r.status_code)

        stalled, after_crash = killed_at_the_hold(pf.settings.database_url, submit)
        assert stalled == [] and after_crash == []
        assert statuses == [503]  # its connection died: "try again", nothing public
        # The crash rolled the paper back: submitted again, it is imported and held.
        submit()
        assert statuses[-1] == 200
    with pf.db.transaction() as conn:
        rows = conn.execute(
            "SELECT hp.reason FROM papers p LEFT JOIN hidden_papers hp"
            " ON hp.paper_id = p.id WHERE p.title = %s",
            (title,),
        ).fetchall()
    assert [r["reason"] for r in rows] == ["review"]


def test_a_rejected_submission_is_deleted(review_app):
    pf, app = review_app
    with TestClient(app) as submitter, TestClient(app) as boss:
        _make_admin(pf, boss)
        sign_up(submitter)
        submitter.post(
            "/submit",
            data={
                "csrf_token": submitter.csrf,
                "title": "Buy cheap watches online",
                "abstract": "Spam that pretends to be an abstract of a research paper.",
            },
        )
        with pf.db.transaction() as conn:
            row = conn.execute(
                "SELECT id, paper_id FROM submissions WHERE title = 'Buy cheap watches online'"
            ).fetchone()
        assert "awaiting review" in boss.get("/admin/papers", params={"state": "review"}).text
        r = _post(boss, f"/admin/submissions/{row['id']}/reject")
        assert "Rejected" in boss.get(r.headers["location"]).text
        assert boss.get(f"/papers/{row['paper_id']}").status_code == 404


def test_a_running_imports_counts_show_while_it_runs(pf, app, admin_client):
    """An import whose source blocks between batches: the admin sees its counts so far."""
    more = threading.Event()

    def source():
        for i in range(12):
            day = date(2024, 5, 1)
            paper = Paper(
                title=f"Progress paper number {i}", abstract="An abstract.", published_on=day
            )
            yield Record(paper, "test", f"progress:{i}", f"item {i}")
        more.wait(60)  # the source is slow: the committed batches are all there is so far
        yield Record(Paper(title="The last one", published_on=day), "test", "progress:x", "x")

    done: list = []
    worker = threading.Thread(
        target=lambda: done.append(
            ingest(pf.db, source(), source="test", origin="slow source", batch_size=2)
        )
    )
    worker.start()
    try:
        for _ in range(600):
            body = admin_client.get("/admin/imports.json").json()
            run = body["runs"][0]
            if run["status"] == "running" and run["read"] >= 8:
                break
            more.wait(0.1)
        assert body["running"] and run["status"] == "running", body
        assert 8 <= run["read"] <= 12 and run["new"] == run["read"] and run["finished"] is None
        page = admin_client.get("/admin").text
        assert f'data-run-id="{run["id"]}"' in page and "admin.js" in page
        assert page.count('class="run-running"') == 1
    finally:
        more.set()
        worker.join(60)
    run = admin_client.get("/admin/imports.json").json()["runs"][0]
    assert not admin_client.get("/admin/imports.json").json()["running"]
    assert (run["status"], run["read"], run["new"]) == ("finished", 13, 13)
    assert done[0].read == 13
