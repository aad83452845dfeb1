"""Subscribing through the web app: double opt-in, manage, one-click unsubscribe."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

import pytest
from itsdangerous import URLSafeTimedSerializer

from paperfeed.delivery import digest, subscriptions, tokens
from paperfeed.delivery.candidates import CandidateFinder
from tests.conftest import Mailbox

from .conftest import add_papers, csrf_of

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _subscribe(client, email: str = "new@example.com", **form: str):
    data = {
        "email": email,
        "kind": "trending",
        "cadence": "daily",
        "send_hour": "8",
        "timezone": "Europe/Paris",
        "csrf_token": csrf_of(client),
        **form,
    }
    return client.post("/subscribe", data=data)


def _link(msg, pattern: str) -> str:
    text = msg.get_body(("plain",)).get_content()
    match = re.search(pattern, text)
    assert match, text
    return match.group(0)


def _path(url: str) -> str:
    return url.removeprefix("https://papers.example.org")


def _confirm_url(mailbox: Mailbox, email: str) -> str:
    [msg] = mailbox.to(email)
    return _link(msg, r"https://papers\.example\.org/subscriptions/confirm/\S+")


def _send(mpf, now: datetime = NOW):
    return digest.run(mpf, now=now, finder=CandidateFinder())


def test_nothing_is_sent_before_the_confirmation_click(client, mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [("Paper One", date(2026, 11, 23), 3)])
    response = _subscribe(client)
    assert response.status_code == 200 and "Check your inbox" in response.text
    [confirmation] = mailbox.to("new@example.com")
    assert "Confirm" in str(confirmation["Subject"])
    mailbox.clear()
    report = _send(mpf)
    assert report.queued.due == 0 and mailbox.messages == []


def test_confirm_link_activates_once_and_digests_follow(client, mpf, mailbox: Mailbox) -> None:
    add_papers(mpf, [("Paper One", date(2026, 11, 24), 3)])
    _subscribe(client)
    url = _path(_confirm_url(mailbox, "new@example.com"))
    # A GET (what a mail scanner does) shows a button and changes nothing.
    page = client.get(url)
    assert page.status_code == 200 and 'method="post"' in page.text
    with mpf.db.connection() as conn:
        assert conn.execute("SELECT status FROM subscriptions").fetchone()["status"] == "pending"
    done = client.post(url, data={"csrf_token": csrf_of(client)})
    assert done.status_code == 200 and "Subscribed" in done.text
    again = client.post(url, data={"csrf_token": csrf_of(client)})
    assert again.status_code == 400  # single use
    with mpf.db.transaction() as conn:  # as if confirmed before the test's fixed dates
        conn.execute("UPDATE subscriptions SET confirmed_at = '2000-01-01'")
    mailbox.clear()
    # 09:00 Paris on the 24th is past the 08:00 slot: the first digest goes out.
    report = _send(mpf, datetime(2026, 11, 24, 8, 30, tzinfo=UTC))
    assert report.sent.sent == 1
    [msg] = mailbox.to("new@example.com")
    assert "Paper One" in msg.get_body(("plain",)).get_content()


def test_forged_and_expired_confirm_tokens_are_refused(client, mpf, mailbox: Mailbox) -> None:
    _subscribe(client)
    url = _confirm_url(mailbox, "new@example.com")
    token = url.rsplit("/", 1)[1]
    with mpf.db.connection() as conn:
        sub = conn.execute("SELECT id, confirm_nonce FROM subscriptions").fetchone()
    forged = URLSafeTimedSerializer("not-our-key", salt=tokens.CONFIRM).dumps(
        [sub["id"], sub["confirm_nonce"]]
    )
    wrong_purpose = tokens.make_token(
        mpf.secret_key, tokens.MANAGE, sub["id"], sub["confirm_nonce"]
    )
    for bad in (forged, wrong_purpose, token[:-3] + "abc"):
        response = client.post(
            f"/subscriptions/confirm/{bad}", data={"csrf_token": csrf_of(client)}
        )
        assert response.status_code == 400
    # Expired: the same, correctly signed token read after its lifetime.
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.read_token(mpf.secret_key, tokens.CONFIRM, token, max_age=-1)
    old = URLSafeTimedSerializer(mpf.secret_key, salt=tokens.CONFIRM)
    old_token = old.dumps([sub["id"], sub["confirm_nonce"]])
    real_time = time.time
    try:
        time.time = lambda: real_time() + tokens.CONFIRM_MAX_AGE + 60  # type: ignore[assignment]
        response = client.post(
            f"/subscriptions/confirm/{old_token}", data={"csrf_token": csrf_of(client)}
        )
    finally:
        time.time = real_time  # type: ignore[assignment]
    assert response.status_code == 400 and "expired" in response.text
    with mpf.db.connection() as conn:
        assert conn.execute("SELECT status FROM subscriptions").fetchone()["status"] == "pending"


def test_resubscribing_replaces_the_confirmation_link(client, mpf, mailbox: Mailbox) -> None:
    _subscribe(client)
    first = _path(_confirm_url(mailbox, "new@example.com"))
    mailbox.clear()
    _subscribe(client)
    second = _path(_confirm_url(mailbox, "new@example.com"))
    assert client.post(first, data={"csrf_token": csrf_of(client)}).status_code == 400
    assert client.post(second, data={"csrf_token": csrf_of(client)}).status_code == 200
    with mpf.db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM subscriptions").fetchone()["n"] == 1


def test_one_click_unsubscribe_with_a_single_cookieless_post(client, mpf, mailbox) -> None:
    from .conftest import active_subscription

    add_papers(mpf, [("Paper One", date(2026, 11, 23), 3)])
    active_subscription(mpf, "reader@example.com")
    _send(mpf)
    [msg] = mailbox.to("reader@example.com")
    header_url = str(msg["List-Unsubscribe"]).strip("<>")
    assert header_url in msg.get_body(("plain",)).get_content()
    from fastapi.testclient import TestClient

    from paperfeed.web import create_app

    # What a mail provider does: one POST, no cookies, no CSRF token.
    with TestClient(create_app(mpf)) as provider:
        response = provider.post(
            _path(header_url),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 200
    with mpf.db.connection() as conn:
        status = conn.execute("SELECT status FROM subscriptions").fetchone()["status"]
    assert status == "unsubscribed"
    mailbox.clear()
    _send(mpf, NOW.replace(day=24))
    assert mailbox.messages == []


def test_unsubscribe_get_changes_nothing_and_forged_token_is_refused(client, mpf) -> None:
    from .conftest import active_subscription

    sub = active_subscription(mpf, "reader@example.com")
    good = tokens.make_token(mpf.secret_key, tokens.UNSUBSCRIBE, sub.id, sub.link_key)
    page = client.get(f"/unsubscribe/{good}")
    assert page.status_code == 200 and 'action="/unsubscribe/' in page.text
    stale = tokens.make_token(mpf.secret_key, tokens.UNSUBSCRIBE, sub.id, "old-key")
    client.post(f"/unsubscribe/{stale}")
    forged = tokens.make_token("other-key", tokens.UNSUBSCRIBE, sub.id, sub.link_key)
    assert client.post(f"/unsubscribe/{forged}").status_code == 400
    with mpf.db.connection() as conn:
        assert subscriptions.get(conn, sub.id).status == "active"


def test_manage_page_changes_schedule_and_pauses(client, mpf) -> None:
    from .conftest import active_subscription

    sub = active_subscription(mpf, "reader@example.com")
    token = tokens.make_token(mpf.secret_key, tokens.MANAGE, sub.id, sub.link_key)
    assert "reader@example.com" in client.get(f"/subscriptions/manage/{token}").text
    form = {
        "csrf_token": csrf_of(client),
        "cadence": "weekly",
        "send_hour": "18",
        "send_weekday": "5",
        "timezone": "Asia/Tokyo",
        "action": "save",
    }
    assert client.post(f"/subscriptions/manage/{token}", data=form).status_code == 200
    bad = client.post(f"/subscriptions/manage/{token}", data={**form, "timezone": "Mars/Base"})
    assert bad.status_code == 422
    client.post(f"/subscriptions/manage/{token}", data={**form, "action": "pause"})
    with mpf.db.connection() as conn:
        changed = subscriptions.get(conn, sub.id)
    assert (changed.cadence, changed.send_hour, changed.send_weekday, changed.timezone) == (
        "weekly",
        18,
        5,
        "Asia/Tokyo",
    )
    assert (changed.status, changed.paused_reason) == ("paused", "user")


def test_bad_email_and_missing_csrf_are_refused(client, mailbox: Mailbox) -> None:
    assert _subscribe(client, "not an email").status_code == 422
    assert _subscribe(client, "x@example.com\r\nBcc: victim@example.com").status_code == 422
    response = client.post("/subscribe", data={"email": "a@example.com"})
    assert response.status_code == 403
    assert mailbox.messages == []


def test_the_form_is_not_a_mail_cannon(client, mailbox: Mailbox) -> None:
    codes = [_subscribe(client, "victim@example.com").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert len(mailbox.to("victim@example.com")) == 3
