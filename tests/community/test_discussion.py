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
    # White space only: refused by the schema (its pattern asks for some text), hence 422.
    assert c.post(f"/api/papers/{pid}/comments", json={"body": "   "},
                  headers={"X-CSRF-Token": c.csrf}).status_code == 422  # fmt: skip
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


def test_html_is_stored_on_write_and_rerendered_on_edit(pf, app, signed_in) -> None:
    """The page shows the HTML stored when the comment was written (made by the sanitiser);
    an edit stores new HTML; a row from before the stored HTML is rendered on read until the
    upkeep stores its HTML."""
    from paperfeed.catalogue import comment_html, comments

    pid = _paper(pf)
    c = signed_in
    made = _comment(c, pid, "Try [this](javascript:alert(1)) and <script>x()</script> **ok**")
    with pf.db.connection() as conn:
        row = conn.execute(
            "SELECT body_html, html_version FROM comments WHERE id = %s", (made["id"],)
        ).fetchone()
    assert row["html_version"] == comment_html.VERSION
    assert row["body_html"] == str(comment_html.render(made["body"]))
    assert "<strong>ok</strong>" in row["body_html"] and "<script" not in row["body_html"]
    assert "href=\"javascript" not in row["body_html"] and "<a" not in row["body_html"]
    page = c.get(f"/papers/{pid}").text
    assert row["body_html"] in page
    # An edit re-renders and stores; the page and the API show the new HTML.
    r = c.patch(f"/api/comments/{made['id']}", json={"body": "Now *edited*"},
                headers={"X-CSRF-Token": c.csrf})  # fmt: skip
    assert r.status_code == 200 and r.json()["html"] == "<p>Now <em>edited</em></p>\n"
    with pf.db.connection() as conn:
        stored = conn.execute(
            "SELECT body_html FROM comments WHERE id = %s", (made["id"],)
        ).fetchone()["body_html"]
    assert stored == "<p>Now <em>edited</em></p>\n" and stored in c.get(f"/papers/{pid}").text
    # A row without stored HTML (written before migration 0013) still shows rendered HTML...
    with pf.db.transaction() as conn:
        conn.execute(
            "UPDATE comments SET body = 'old **one**', body_html = NULL, html_version = NULL"
            " WHERE id = %s",
            (made["id"],),
        )
    assert "old <strong>one</strong>" in c.get(f"/papers/{pid}").text
    # ... and the upkeep stores it.
    with pf.db.transaction() as conn:
        assert comments.render_stale(conn) == 1
        assert comments.render_stale(conn) == 0
        stored = conn.execute(
            "SELECT body_html, html_version FROM comments WHERE id = %s", (made["id"],)
        ).fetchone()
    assert stored["body_html"] == "<p>old <strong>one</strong></p>\n"
    assert stored["html_version"] == comment_html.VERSION


def test_no_unused_community_prefs_table(pf) -> None:
    """Reply-email opt-in is a 'replies' subscription; 0007's community_prefs is dropped."""
    with pf.db.connection() as conn:
        found = conn.execute("SELECT to_regclass('community_prefs') AS t").fetchone()["t"]
    assert found is None


def test_long_discussion_is_paged_and_links_find_their_page(pf, app, signed_in) -> None:
    """PER_PAGE top-level comments (with their replies) a page; a link to a comment (the
    redirect after posting, the moderation queue, the feed) opens the page that holds it."""
    from paperfeed.catalogue import accounts, comments

    pid = _paper(pf)
    total = comments.PER_PAGE + 5
    with pf.db.transaction() as conn:
        user = accounts.create_user(conn, "many@example.org", "correct horse battery")
        made = [
            comments.create(conn, user, pid, f"Thread number {i:02d}.", rate=10**6)["id"]
            for i in range(total)
        ]
        comments.create(conn, user, pid, "A reply on the first thread.", parent_id=made[0],
                        rate=10**6)  # fmt: skip
    c = signed_in
    first = c.get(f"/papers/{pid}?sort=new").text
    # Newest first: threads 29..05 on page 1, 04..00 (and the reply) on page 2.
    assert "Thread number 29." in first and "Thread number 05." in first
    assert "Thread number 04." not in first and "Page 1 of 2" in first
    assert f'href="/papers/{pid}?sort=new&amp;page=2#discussion"' in first
    second = c.get(f"/papers/{pid}?sort=new&page=2").text
    assert "Thread number 04." in second and "A reply on the first thread." in second
    assert "Thread number 05." not in second and 'rel="prev"' in second
    # A page past the end shows the last page.
    assert "Thread number 00." in c.get(f"/papers/{pid}?sort=new&page=9").text
    # Replying to the oldest thread redirects to the page that shows the reply.
    r = c.post(f"/papers/{pid}/comments",
               data={"csrf_token": c.csrf, "body": "Late reply", "parent_id": made[0]},
               follow_redirects=False)  # fmt: skip
    location = r.headers["location"]
    assert location.startswith(f"/papers/{pid}?comment=")
    shown = c.get(location.split("#")[0] + "&sort=new").text
    assert "Late reply" in shown and "Thread number 00." in shown and "Page 2 of 2" in shown
    feed = feedparser.parse(c.get(f"/papers/{pid}/comments.atom").content)
    assert all("?comment=" in e.link for e in feed.entries)
