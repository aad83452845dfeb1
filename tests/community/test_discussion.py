"""Discussion through the real app: comment, reply, edit, delete, vote, report, moderate,
rate limits, first-comment review, counts on cards, the Atom feed and the JSON API."""

from __future__ import annotations

import dataclasses
from datetime import date

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperfeed.app import Paperfeed
from paperfeed.web import create_app
from tests.web.conftest import add_papers, csrf_of, paper, sign_up

DAY = date(2025, 4, 1)


def _paper(pf) -> int:
    [pid] = add_papers(pf, paper("Sparse attention revisited", DAY, upvotes=3))
    return pid


def _make_admin(pf, email: str) -> None:
    with pf.db.transaction() as conn:
        conn.execute("UPDATE users SET is_admin = true WHERE lower(email) = lower(%s)", (email,))


def _comment(c, pid: int, body: str, parent: int | None = None) -> dict:
    payload = {"body": body} | ({"parent_id": parent} if parent else {})
    r = c.post(f"/api/papers/{pid}/comments", json=payload, headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 201, r.text
    return r.json()


def _client(app) -> TestClient:
    c = TestClient(app)
    c.__enter__()
    c.email = sign_up(c)
    return c


def test_comment_reply_edit_delete_through_forms(pf, app, signed_in) -> None:
    pid = _paper(pf)
    c = signed_in
    r = c.post(f"/papers/{pid}/comments", data={"csrf_token": c.csrf, "body": "**Nice** work"},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and "#comment-" in r.headers["location"]
    cid = int(r.headers["location"].rsplit("-", 1)[1])
    other = _client(app)
    r = other.post(f"/papers/{pid}/comments",
                   data={"csrf_token": other.csrf, "body": "Agreed", "parent_id": cid},
                   follow_redirects=False)  # fmt: skip
    reply = int(r.headers["location"].rsplit("-", 1)[1])
    # Replies go one level deep.
    deeper = other.post(f"/api/papers/{pid}/comments", json={"body": "x", "parent_id": reply},
                        headers={"X-CSRF-Token": other.csrf})  # fmt: skip
    assert deeper.status_code == 400
    html = c.get(f"/papers/{pid}").text
    assert "<strong>Nice</strong> work" in html and "Agreed" in html
    assert "Discussion (2)" in html
    # Edit is marked; someone else's comment cannot be edited or deleted.
    c.post(f"/comments/{cid}/edit", data={"csrf_token": c.csrf, "body": "Nice *indeed*"})
    html = c.get(f"/papers/{pid}").text
    assert "<em>indeed</em>" in html and ">edited<" in html
    hacked = other.post(f"/comments/{cid}/edit", data={"csrf_token": other.csrf, "body": "x"})
    assert hacked.status_code == 403
    assert other.post(f"/comments/{cid}/delete", data={"csrf_token": other.csrf}).status_code == 403
    # Deleting keeps the reply under a [deleted] head.
    c.post(f"/comments/{cid}/delete", data={"csrf_token": c.csrf})
    html = c.get(f"/papers/{pid}").text
    assert "[deleted]" in html and "Agreed" in html and "Nice" not in html
    # Forms need the CSRF token.
    assert c.post(f"/papers/{pid}/comments", data={"body": "x"}).status_code == 403
    other.__exit__(None, None, None)


def test_votes_sort_and_counts_on_cards(pf, app, signed_in) -> None:
    pid = _paper(pf)
    c = signed_in
    first = _comment(c, pid, "first comment")
    second = _comment(c, pid, "second comment")
    voter = _client(app)
    r = voter.post(f"/api/comments/{second['id']}/vote", headers={"X-CSRF-Token": voter.csrf})
    assert r.json() == {"id": second["id"], "voted": True, "score": 1}
    top = c.get(f"/api/papers/{pid}/comments?sort=top").json()["comments"]
    new = c.get(f"/api/papers/{pid}/comments?sort=new").json()["comments"]
    assert [x["id"] for x in top] == [second["id"], first["id"]]
    assert [x["id"] for x in new] == [second["id"], first["id"]]
    voter.delete(f"/api/comments/{second['id']}/vote", headers={"X-CSRF-Token": voter.csrf})
    top = c.get(f"/api/papers/{pid}/comments?sort=top").json()["comments"]
    assert [x["id"] for x in top] == [first["id"], second["id"]]
    assert "2 comments" in c.get("/?date=2025-04-01").text
    assert c.get("/api/papers?period=daily&date=2025-04-01").json()["papers"][0]["comments"] == 2
    voter.__exit__(None, None, None)


def test_report_hide_restore_and_queue(pf, app, signed_in) -> None:
    pid = _paper(pf)
    c = signed_in
    bad = _comment(c, pid, "buy cheap pills")
    reporter = _client(app)
    r = reporter.post(f"/api/comments/{bad['id']}/report", json={"reason": "spam"},
                      headers={"X-CSRF-Token": reporter.csrf})  # fmt: skip
    assert r.status_code == 200
    assert reporter.get("/admin/comments").status_code == 403
    admin = _client(app)
    _make_admin(pf, admin.email)
    queue = admin.get("/admin/comments").text
    assert "buy cheap pills" in queue and "spam" in queue
    admin.post(f"/comments/{bad['id']}/hide", data={"csrf_token": admin.csrf})
    assert "buy cheap pills" not in reporter.get(f"/papers/{pid}").text
    assert "buy cheap pills" not in admin.get("/admin/comments").text  # report resolved
    assert reporter.get(f"/api/papers/{pid}/comments").json()["comments"] == []
    admin.post(f"/comments/{bad['id']}/restore", data={"csrf_token": admin.csrf})
    assert "buy cheap pills" in reporter.get(f"/papers/{pid}").text
    # Only admins moderate.
    assert reporter.post(f"/comments/{bad['id']}/hide",
                         data={"csrf_token": reporter.csrf}).status_code == 403  # fmt: skip
    for x in (reporter, admin):
        x.__exit__(None, None, None)


def test_rate_limit_per_account(pf, settings) -> None:
    tight = dataclasses.replace(settings, comment_rate=3)
    with Paperfeed(tight) as limited, TestClient(create_app(limited)) as c:
        pid = _paper(limited)
        sign_up(c)
        c.csrf = csrf_of(c)
        codes = [
            c.post(f"/api/papers/{pid}/comments", json={"body": f"n{i}"},
                   headers={"X-CSRF-Token": c.csrf}).status_code  # fmt: skip
            for i in range(4)
        ]
        assert codes == [201, 201, 201, 429]
        # Another account has its own budget.
        with TestClient(create_app(limited)) as d:
            sign_up(d)
            d.csrf = csrf_of(d)
            ok = d.post(f"/api/papers/{pid}/comments", json={"body": "hi"},
                        headers={"X-CSRF-Token": d.csrf})  # fmt: skip
            assert ok.status_code == 201


def test_first_comment_waits_for_review(pf, settings) -> None:
    strict = dataclasses.replace(settings, comment_review_first=True)
    with Paperfeed(strict) as app_pf, TestClient(create_app(app_pf)) as c:
        pid = _paper(app_pf)
        sign_up(c)
        c.csrf = csrf_of(c)
        first = _comment(c, pid, "my very first comment")
        assert first["status"] == "pending"
        with TestClient(create_app(app_pf)) as anon:
            assert "my very first comment" not in anon.get(f"/papers/{pid}").text
        assert "awaiting review" in c.get(f"/papers/{pid}").text
        with TestClient(create_app(app_pf)) as admin:
            email = sign_up(admin)
            _make_admin(app_pf, email)
            admin.csrf = csrf_of(admin)
            assert "my very first comment" in admin.get("/admin/comments").text
            admin.post(f"/comments/{first['id']}/approve", data={"csrf_token": admin.csrf})
        with TestClient(create_app(app_pf)) as anon:
            assert "my very first comment" in anon.get(f"/papers/{pid}").text
        # Once approved, the account's comments are visible at once.
        assert _comment(c, pid, "second")["status"] == "visible"


def test_atom_feed_of_a_discussion(pf, signed_in, client) -> None:
    pid = _paper(pf)
    _comment(signed_in, pid, "Feeds *work* <script>alert(1)</script>")
    r = client.get(f"/papers/{pid}/comments.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    [entry] = feed.entries
    assert "<em>work</em>" in entry.content[0].value
    assert "<script>" not in entry.content[0].value
    assert client.get("/papers/999999/comments.atom").status_code == 404


def test_api_rules_match_the_forms(pf, app, signed_in, client) -> None:
    pid = _paper(pf)
    c = signed_in
    assert client.post(f"/api/papers/{pid}/comments", json={"body": "x"}).status_code in (401, 403)
    made = _comment(c, pid, "api comment")
    r = c.patch(f"/api/comments/{made['id']}", json={"body": "changed"},
                headers={"X-CSRF-Token": c.csrf})  # fmt: skip
    assert r.status_code == 200 and r.json()["edited_at"] and r.json()["body"] == "changed"
    assert c.post(f"/api/papers/{pid}/comments", json={"body": "   "},
                  headers={"X-CSRF-Token": c.csrf}).status_code == 400  # fmt: skip
    assert c.post(f"/api/papers/{pid}/comments", json={"body": "x" * 10_001},
                  headers={"X-CSRF-Token": c.csrf}).status_code in (400, 422)  # fmt: skip
    assert c.post("/api/papers/987654/comments", json={"body": "x"},
                  headers={"X-CSRF-Token": c.csrf}).status_code == 404  # fmt: skip
    r = c.delete(f"/api/comments/{made['id']}", headers={"X-CSRF-Token": c.csrf})
    assert r.json()["status"] == "deleted"
    assert c.get(f"/api/papers/{pid}/comments").json()["comments"] == []


@pytest.mark.parametrize("sort", ["bogus"])
def test_bad_sort_is_rejected(pf, client, sort) -> None:
    pid = _paper(pf)
    assert client.get(f"/api/papers/{pid}/comments?sort={sort}").status_code in (400, 422)
