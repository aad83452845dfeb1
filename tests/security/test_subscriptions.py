"""Item 1: a subscribe request for an address that already has the subscription changes
nothing and hands the requester nothing; item 6: no visitor text in confirmation mail."""

from __future__ import annotations

from paperfeed.app import Paperfeed
from tests.conftest import Mailbox

from .conftest import csrf_of, link_in, sign_up

VICTIM = "victim@example.com"


def _subscribe(client, email: str, **form: str):
    data = {"email": email, "kind": "trending", "cadence": "daily", "send_hour": "8",
            "timezone": "Europe/Paris", "csrf_token": csrf_of(client, "/subscribe"), **form}
    return client.post("/subscribe", data=data)


def _victim_subscribed(browser, mailbox: Mailbox) -> None:
    victim = browser()
    assert _subscribe(victim, VICTIM).status_code == 200
    url = link_in(mailbox, VICTIM, r"https://\S+/subscriptions/confirm/\S+")
    assert victim.post(url, data={"csrf_token": csrf_of(victim)}).status_code == 200
    mailbox.clear()


def _row(mpf: Paperfeed) -> dict:
    with mpf.db.connection() as conn:
        return conn.execute(
            "SELECT user_id, send_hour, timezone, status FROM subscriptions"
        ).fetchone()


def test_signed_in_stranger_cannot_take_over_a_confirmed_subscription(
    browser, mpf: Paperfeed, mailbox: Mailbox
) -> None:
    _victim_subscribed(browser, mailbox)
    before = _row(mpf)
    attacker = browser()
    sign_up(attacker, "attacker@example.com")
    response = _subscribe(attacker, VICTIM, send_hour="3", timezone="Asia/Tokyo")
    assert response.status_code == 200
    assert _row(mpf) == before  # not attached, not rescheduled
    mine = attacker.get("/subscriptions")
    assert "/subscriptions/manage/" not in mine.text
    # The owner hears about it, with the manage link only they can read.
    [notice] = mailbox.to(VICTIM)
    assert "/subscriptions/manage/" in notice.get_body(("plain",)).get_content()
    assert mailbox.to("attacker@example.com") == []


def test_anonymous_request_does_not_reschedule_a_confirmed_subscription(
    browser, mpf: Paperfeed, mailbox: Mailbox
) -> None:
    _victim_subscribed(browser, mailbox)
    before = _row(mpf)
    assert _subscribe(browser(), VICTIM, send_hour="4", timezone="UTC").status_code == 200
    assert _row(mpf) == before


def test_a_pending_subscription_requested_by_a_stranger_is_not_theirs(
    browser, mpf: Paperfeed, mailbox: Mailbox
) -> None:
    attacker = browser()
    sign_up(attacker, "attacker@example.com")
    assert _subscribe(attacker, VICTIM).status_code == 200
    assert _row(mpf)["user_id"] is None
    victim = browser()
    url = link_in(mailbox, VICTIM, r"https://\S+/subscriptions/confirm/\S+")
    assert victim.post(url, data={"csrf_token": csrf_of(victim)}).status_code == 200
    assert "/subscriptions/manage/" not in attacker.get("/subscriptions").text


def test_own_address_subscription_is_listed_for_its_account(
    browser, mpf: Paperfeed, mailbox: Mailbox
) -> None:
    owner = browser()
    sign_up(owner, "owner@example.com")
    assert _subscribe(owner, "Owner@Example.com").status_code == 200
    url = link_in(mailbox, "Owner@Example.com", r"https://\S+/subscriptions/confirm/\S+")
    assert owner.post(url, data={"csrf_token": csrf_of(owner)}).status_code == 200
    assert "/subscriptions/manage/" in owner.get("/subscriptions").text


def test_confirmation_mail_carries_no_visitor_text(browser, mailbox: Mailbox) -> None:
    bait = "WIN 1000 EUR at evil.example"
    response = _subscribe(
        browser(), "someone@example.com", kind="search", q=bait, organization=bait
    )
    assert response.status_code == 200
    [msg] = mailbox.to("someone@example.com")
    raw = msg.as_string()
    assert "evil.example" not in raw and "WIN 1000" not in raw
    assert "saved search" in str(msg["Subject"])
