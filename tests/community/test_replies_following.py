"""Reply emails (opt-in, through the outbox, one-click unsubscribe), read from aiosmtpd;
the followed-author reason in for-you and in the 'following' digest."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from paperfeed.delivery import digest, subscriptions
from paperfeed.ranking import recommend
from paperfeed.web import create_app
from tests.web.conftest import add_papers, csrf_of, paper, sign_up

DAY = date(2026, 11, 23)


def _client(pf) -> TestClient:
    c = TestClient(create_app(pf), base_url="https://papers.example.org")
    c.__enter__()
    c.email = sign_up(c)
    c.csrf = csrf_of(c)
    return c


def _post(c, pid, body, parent=None):
    payload = {"body": body} | ({"parent_id": parent} if parent else {})
    r = c.post(f"/api/papers/{pid}/comments", json=payload, headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 201, r.text
    return r.json()


def test_reply_email_is_opt_in_and_unsubscribes_in_one_click(mpf, mailbox) -> None:
    [pid] = add_papers(mpf, paper("Reply-worthy results", DAY, upvotes=1))
    alice, bob = _client(mpf), _client(mpf)
    top = _post(alice, pid, "What about **ablations**?")
    _post(bob, pid, "Before opting in", parent=top["id"])
    digest.run(mpf, now=datetime(2026, 11, 23, 12, tzinfo=UTC))
    assert mailbox.to(alice.email) == []  # not opted in: nothing
    r = alice.post("/account/reply-emails", data={"csrf_token": alice.csrf, "on": "true"},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "Reply emails are on" in alice.get("/following").text
    reply = _post(bob, pid, "Table 3 has them.", parent=top["id"])
    _post(alice, pid, "Own reply: no email to myself", parent=top["id"])
    digest.run(mpf, now=datetime(2026, 11, 23, 12, tzinfo=UTC))
    [msg] = mailbox.to(alice.email)
    assert "replied to your comment" in str(msg["Subject"])
    text = msg.get_body(("plain",)).get_content()
    assert "Table 3 has them." in text and f"/papers/{pid}" in text
    # The same reply is never queued twice (period key reply:<id>).
    with mpf.db.connection() as conn:
        rows = conn.execute(
            "SELECT period_key FROM digest_outbox WHERE period_key LIKE 'reply:%%'"
        ).fetchall()
    assert [r["period_key"] for r in rows] == [f"reply:{reply['id']}"]
    header_url = str(msg["List-Unsubscribe"]).strip("<>")
    with TestClient(create_app(mpf)) as provider:
        response = provider.post(
            urlsplit(header_url).path,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200
    mailbox.clear()
    _post(bob, pid, "One more", parent=top["id"])
    digest.run(mpf, now=datetime(2026, 11, 23, 12, tzinfo=UTC))
    assert mailbox.to(alice.email) == []
    assert "Reply emails are off" in alice.get("/following").text
    for c in (alice, bob):
        c.__exit__(None, None, None)


def test_followed_author_reason_in_for_you_and_digest(mpf, mailbox) -> None:
    ids = add_papers(
        mpf,
        paper("Jane's new method", DAY, authors=("Jane Doe", "Sam Lee")),
        paper("Unrelated work", DAY, authors=("Max Power",)),
    )
    reader = _client(mpf)
    reader.post("/authors/jane-doe/follow", data={"csrf_token": reader.csrf})
    with mpf.db.connection() as conn:
        user_id = conn.execute(
            "SELECT id FROM users WHERE email = %s", (reader.email,)
        ).fetchone()["id"]
    picks = recommend.for_you(mpf.db, user_id)
    assert [(p.paper_id, p.reason) for p in picks] == [(ids[0], "by Jane Doe, whom you follow")]
    assert "By Jane Doe, whom you follow" in reader.get("/for-you").text
    # The 'following' digest: subscribe from the form (account address only).
    r = reader.post(
        "/subscribe",
        data={"csrf_token": reader.csrf, "email": reader.email, "kind": "following"},
    )
    assert r.status_code == 200, r.text
    with mpf.db.transaction() as conn:
        sub = conn.execute("SELECT id, confirm_nonce FROM subscriptions WHERE kind = 'following'"
                           ).fetchone()  # fmt: skip
        subscriptions.confirm(conn, sub["id"], sub["confirm_nonce"])
        conn.execute("UPDATE subscriptions SET confirmed_at = '2000-01-01' WHERE id = %s",
                     (sub["id"],))  # fmt: skip
    mailbox.clear()
    digest.run(mpf, now=datetime(2026, 11, 24, 12, tzinfo=UTC))
    [msg] = mailbox.to(reader.email)
    text = msg.get_body(("plain",)).get_content()
    assert "Jane's new method" in text and "by Jane Doe, whom you follow" in text
    assert "Unrelated work" not in text
    reader.__exit__(None, None, None)
